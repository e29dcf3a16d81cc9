package goe

import (
	"context"
	"fmt"
	"net"
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
	stop, err = s.srv.Announce(ctx, MDNSInstance(s.cfg.Serial), MDNSService, MDNSHost(s.cfg.Serial), nil, ifaces)
	if err != nil {
		return nil, fmt.Errorf("goe sim: advertise: %w", err)
	}
	return stop, nil
}
