package web

import (
	"net"
	"time"
)

// SetIngressPeer changes the trusted ingress peer, so a test on loopback
// can play the Supervisor.
func SetIngressPeer(s *Server, addr string) { s.ingressPeer = addr }

// WarnIfExposed runs the exposure check for addr.
func WarnIfExposed(s *Server, addr net.Addr) { s.warnIfExposed(addr) }

// MaxBody is the request body limit.
const MaxBody = maxBody

// SetReadTimeout changes the server's read timeout; call before Serve.
func SetReadTimeout(s *Server, d time.Duration) { s.readTimeout = d }
