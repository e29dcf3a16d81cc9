package httpsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/grandcat/zeroconf"
)

// Announce advertises the running server over mDNS as instance of
// service, with host name host (without .local) and the TXT records, on
// ifaces (nil: every multicast interface), until ctx ends, the server
// closes, or stop is called. stop sends the goodbye (TTL 0) and may be
// called more than once. The multicast sockets are opened before Announce
// returns, in the calling thread's network namespace. A server bound to
// loopback is refused: nothing on a network could reach it.
func (s *Server) Announce(ctx context.Context, instance, service, host string, txt []string, ifaces []net.Interface) (stop func(), err error) {
	running, addr := s.Running(), s.Addr()
	if running == nil {
		return nil, errors.New("announce: simulator not started")
	}
	bound, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	ips, err := AdvertisedIPs(net.ParseIP(bound), ifaces)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	srv, err := zeroconf.RegisterProxy(instance, service, "local.", port, host, ips, txt, ifaces)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	done := make(chan struct{})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			srv.Shutdown()
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-running:
			stop()
		case <-done:
		}
	}()
	return stop, nil
}

// AdvertisedIPs is the bound address, or the IPv4 addresses of ifaces
// (every up, multicast interface when nil) when bound to all of them.
func AdvertisedIPs(bound net.IP, ifaces []net.Interface) ([]string, error) {
	switch {
	case bound == nil:
		return nil, errors.New("not bound to an IP address")
	case bound.IsLoopback():
		return nil, fmt.Errorf("bound to loopback %s", bound)
	case !bound.IsUnspecified():
		return []string{bound.String()}, nil
	}
	if len(ifaces) == 0 {
		all, err := net.Interfaces()
		if err != nil {
			return nil, err
		}
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				ifaces = append(ifaces, ifi)
			}
		}
	}
	var ips []string
	for _, ifi := range ifaces {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				ips = append(ips, n.IP.String())
			}
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("no IPv4 address to announce")
	}
	return ips, nil
}

// announcer is a simulator that can advertise itself over mDNS.
type announcer interface {
	Advertise(ctx context.Context, ifaces []net.Interface) (stop func(), err error)
}

// announceIfReachable advertises sim when it listens on a network
// address, as the real device does; on loopback it stays quiet.
func announceIfReachable(ctx context.Context, sim any, addr string) {
	a, ok := sim.(announcer)
	if !ok {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || net.ParseIP(host) == nil || net.ParseIP(host).IsLoopback() {
		return
	}
	if stop, err := a.Advertise(ctx, nil); err == nil {
		go func() { <-ctx.Done(); stop() }()
	}
}
