package discover

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// kebaReport1 is the identity part of a KEBA station's "report 1" answer
// (KEBA "KeContact P30 UDP Programmers Guide" V2.01, §3.2).
type kebaReport1 struct {
	ID       string `json:"ID"`
	Product  string `json:"Product"`
	Serial   string `json:"Serial"`
	Firmware string `json:"Firmware"`
}

// parseKEBAReport1 reads a "report 1" answer; ok is false for anything
// else (another report, a "TCH-OK", garbage).
func parseKEBAReport1(b []byte) (kebaReport1, bool) {
	var r kebaReport1
	if len(b) > 2048 || json.Unmarshal(b, &r) != nil || r.ID != "1" || r.Serial == "" || r.Product == "" {
		return kebaReport1{}, false
	}
	return r, true
}

// probeKEBA asks every address of prefix for "report 1" over one UDP
// socket and collects the answers for ConnTimeout after the last send.
// KEBA stations speak UDP only (no TCP port to fingerprint), and answer to
// the asking address.
func probeKEBA(ctx context.Context, o Options, prefix netip.Prefix) []Found {
	if o.KEBAPort < 0 || o.ListenPacket == nil {
		return nil
	}
	local := net.JoinHostPort("", strconv.Itoa(max(o.KEBALocalPort, 0)))
	pc, err := o.ListenPacket(ctx, "udp4", local)
	if err != nil {
		o.Logger.Debug("keba probe skipped: cannot bind the local port", "addr", local, "err", err)
		return nil
	}
	defer pc.Close()
	for a := range hostsOf(prefix) {
		if ctx.Err() != nil {
			return nil
		}
		to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(o.KEBAPort)))
		_, _ = pc.WriteTo([]byte("report 1"), to)
	}
	var out []Found
	seen := map[string]bool{}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(o.ConnTimeout)
	for {
		_ = pc.SetReadDeadline(deadline)
		n, from, err := pc.ReadFrom(buf)
		if err != nil || ctx.Err() != nil {
			return out
		}
		udp, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(udp.IP)
		if !prefix.Contains(ip.Unmap()) || seen[ip.String()] {
			continue
		}
		r, ok := parseKEBAReport1(buf[:n])
		if !ok {
			continue
		}
		seen[ip.String()] = true
		addr := ip.Unmap().String()
		if o.KEBAPort != 7090 {
			addr = net.JoinHostPort(addr, strconv.Itoa(o.KEBAPort))
		}
		out = append(out, Found{Address: addr, Driver: "keba_udp", Kind: KindCharger, FoundBy: ByProbe,
			Brand: "KEBA", Model: clean(r.Product), Serial: clean(r.Serial), Firmware: clean(r.Firmware)})
	}
}
