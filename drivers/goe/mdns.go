package goe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/grandcat/zeroconf"
)

// MDNSService is the DNS-SD service type a go-e Charger V3 announces.
// go-e's firmware developer lists it, with _go-e_go-eCharger_V4._tcp for
// the Gemini, in go-eCharger-API-v2 issue #108 (2023-03-09), and calls it
// undocumented and subject to change. VERIFY on a real unit, as are the
// instance and host names the simulator uses (MDNSInstance, MDNSHost):
// go-e says only that the DHCP host name is "a constant prefix with your
// serial number" (API-v2 issue #56), and documents no TXT record, so the
// simulator announces none.
const MDNSService = "_go-e_go-eCharger._tcp"

// MDNSInstance is the service instance name the simulator announces.
func MDNSInstance(serial string) string { return "go-eCharger-" + serial }

// MDNSHost is the host name the simulator announces (without .local).
func MDNSHost(serial string) string { return "go-echarger-" + serial }

// Advertise announces the running simulator over mDNS on ifaces (nil:
// every multicast interface), as MDNSService with its serial in the
// instance and host names, until ctx ends, the simulator is closed, or
// stop is called. stop sends the goodbye (TTL 0) and may be called more
// than once. The multicast sockets are opened before Advertise returns,
// in the calling thread's network namespace. A simulator bound to
// loopback is refused: nothing on a network could reach it.
func (s *Simulator) Advertise(ctx context.Context, ifaces []net.Interface) (stop func(), err error) {
	running, addr := s.srv.Running(), s.srv.Addr()
	if running == nil {
		return nil, errors.New("goe sim: advertise: simulator not started")
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("goe sim: advertise: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	ips, err := advertisedIPs(net.ParseIP(host), ifaces)
	if err != nil {
		return nil, fmt.Errorf("goe sim: advertise: %w", err)
	}
	srv, err := zeroconf.RegisterProxy(MDNSInstance(s.cfg.Serial), MDNSService, "local.", port,
		MDNSHost(s.cfg.Serial), ips, nil, ifaces)
	if err != nil {
		return nil, fmt.Errorf("goe sim: advertise: %w", err)
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

// advertisedIPs is the bound address, or the IPv4 addresses of ifaces
// (every up, multicast interface when nil) when bound to all of them.
func advertisedIPs(bound net.IP, ifaces []net.Interface) ([]string, error) {
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
