package discover

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/grandcat/zeroconf"
)

// Service is one DNS-SD service type Browse listens for.
type Service struct {
	// Type is the service type without domain, e.g. "_openevse._tcp".
	Type string
	// Driver is the driver its devices belong to; "" for generic types
	// (_http._tcp), where names and TXT records decide.
	Driver string
}

// Services are the service types of protocols.md §18. go-e: its firmware
// developer lists _go-e_go-eCharger._tcp, _go-e_go-eCharger_V4._tcp and
// _go-e_controller._tcp (a meter, not browsed) in go-eCharger-API-v2
// issue #108 (2023-03-09), as undocumented and subject to change; older
// firmware announced _http._tcp. The dotted spelling
// _go-e._go-eCharger._tcp comes from a third-party plugin. Both VERIFY on
// a real unit.
var Services = []Service{
	{Type: "_go-e_go-eCharger._tcp", Driver: "goe"},
	{Type: "_go-e_go-eCharger_V4._tcp", Driver: "goe"},
	{Type: "_go-e._go-eCharger._tcp", Driver: "goe"},
	{Type: "_openevse._tcp", Driver: "openevse"},
	{Type: "_alfen._tcp", Driver: "alfen"},
	{Type: "_shelly._tcp", Driver: "shelly"},
	{Type: "_http._tcp"},
}

// Bounds on what one Browse takes in, whatever the network sends.
const (
	maxCandidates = 512 // distinct (driver, address) pairs fingerprinted
	maxOffLink    = 64  // of those, at addresses outside this host's subnets
	maxTXT        = 32  // TXT strings read per entry
	maxBrowseFP   = 16  // fingerprints at once
)

// candidate is an announced device worth fingerprinting.
type candidate struct {
	driver, service, host, addr string
	port                        int
	generic                     bool // from _http._tcp: only a hint
}

// Browse listens for mDNS announcements of the Services on Options.Ifaces
// for Options.Timeout (IPv4 only: chargers are IPv4 devices), fingerprints
// each announced device and sends what it finds on the returned channel,
// which closes when the listening time is over and the last fingerprint
// has ended, or when ctx ends. Read it to the end or cancel ctx.
// Devices announced by a brand's own service type are reported even when
// their identity cannot be read (Found.Note says why); devices announced
// only as _http._tcp are reported only when identified.
//
// The multicast sockets are opened before Browse returns, in the calling
// thread's network namespace.
func Browse(ctx context.Context, opts Options) (<-chan Found, error) {
	o := opts.withDefaults()
	lctx, cancel := context.WithCancel(ctx) // listening ends with ctx, or:
	if o.Timeout > 0 {
		cancel()
		lctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	adm := &admission{local: localPrefixes(o.Ifaces), seen: map[string]bool{}}
	// Admitted candidates never exceed maxCandidates, so sends to queue
	// never block the drains.
	queue := make(chan candidate, maxCandidates)
	var drains sync.WaitGroup
	for _, svc := range Services {
		// One resolver per type: zeroconf v1.0.0 lets concurrent browses
		// of one resolver steal each other's packets.
		copts := []zeroconf.ClientOption{zeroconf.SelectIPTraffic(zeroconf.IPv4)}
		if len(o.Ifaces) > 0 {
			copts = append(copts, zeroconf.SelectIfaces(o.Ifaces))
		}
		r, err := zeroconf.NewResolver(copts...)
		if err == nil {
			ch := make(chan *zeroconf.ServiceEntry)
			if err = r.Browse(lctx, svc.Type, "local.", ch); err == nil {
				drains.Go(func() {
					// Drain until zeroconf closes ch: it blocks otherwise.
					for e := range ch {
						if c, ok := toCandidate(svc, e, adm.local); ok && adm.admit(c) {
							queue <- c
						}
					}
				})
				continue
			}
		}
		cancel()
		drains.Wait()
		return nil, fmt.Errorf("mdns browse %s: %w", svc.Type, err)
	}
	go func() {
		drains.Wait()
		close(queue)
	}()
	out := make(chan Found)
	go func() {
		defer close(out)
		defer cancel()
		hc := newHTTPClient(o)
		defer hc.CloseIdleConnections()
		identifyAll(ctx, o, hc, queue, out)
		if n := adm.refused(); n > 0 {
			o.Logger.Warn("mdns: too many announced devices; some were ignored", "ignored", n, "limit", maxCandidates)
		}
	}()
	return out, nil
}

// BrowseAll runs Browse and returns its finds, sorted.
func BrowseAll(ctx context.Context, opts Options) ([]Found, error) {
	ch, err := Browse(ctx, opts)
	if err != nil {
		return nil, err
	}
	var out []Found
	for f := range ch {
		out = append(out, f)
	}
	sortFound(out)
	return Merge(out), ctx.Err()
}

// admission decides which announced devices are fingerprinted: each
// (driver, address) once, at most maxCandidates in all, and at most
// maxOffLink outside this host's subnets, so a flood of far-away fakes
// cannot crowd out the devices on the segment.
type admission struct {
	local []netip.Prefix

	mu               sync.Mutex
	seen             map[string]bool
	offLink, refusal int
}

func (a *admission) admit(c candidate) bool {
	k := c.driver + "|" + c.addr
	off := !inAny(a.local, netip.MustParseAddr(c.addr))
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.seen[k]:
		return false
	case len(a.seen) >= maxCandidates, off && a.offLink >= maxOffLink:
		a.refusal++
		return false
	}
	a.seen[k] = true
	if off {
		a.offLink++
	}
	return true
}

func (a *admission) refused() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusal
}

// identifyAll fingerprints the admitted candidates, a bounded number at
// a time, and sends each device once.
func identifyAll(ctx context.Context, o Options, hc *http.Client, queue <-chan candidate, out chan<- Found) {
	sem := make(chan struct{}, min(o.Concurrency, maxBrowseFP))
	var mu sync.Mutex
	sent := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for c := range queue {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			f, ok := identifyCandidate(ctx, o, hc, c)
			if !ok {
				return
			}
			mu.Lock()
			dup := sent[f.key()]
			sent[f.key()] = true
			mu.Unlock()
			if dup {
				o.Logger.Debug("mdns: device announced twice", "driver", f.Driver, "serial", f.Serial, "addr", f.Address)
				return
			}
			select {
			case out <- f:
			case <-ctx.Done():
			}
		})
	}
}

// identifyCandidate fingerprints c with its driver's fingerprinters.
func identifyCandidate(ctx context.Context, o Options, hc *http.Client, c candidate) (Found, bool) {
	fps := o.Registry.ForDriver(c.driver)
	var first string
	var last error
	for _, fp := range fps {
		port := fp.Port
		if fp.HTTP != nil && c.port > 0 {
			port = c.port // the announced port; Modbus stays on its own
		}
		hp := net.JoinHostPort(c.addr, strconv.Itoa(port))
		if first == "" {
			first = hp
		}
		id, err := fingerprint(ctx, o, hc, fp, hp)
		if err == nil {
			f := found(fp, hp, id)
			f.FoundBy, f.Service, f.Hostname = ByMDNS, c.service, c.host
			return f, true
		}
		o.Logger.Debug("mdns: fingerprint failed", "addr", hp, "driver", fp.Driver, "err", err)
		last = err
	}
	if c.generic || ctx.Err() != nil {
		return Found{}, false
	}
	f := Found{Driver: c.driver, Kind: KindCharger, FoundBy: ByMDNS, Service: c.service, Hostname: c.host,
		Address: net.JoinHostPort(c.addr, strconv.Itoa(c.port)), Note: "no fingerprinter for this driver"}
	if len(fps) > 0 {
		f.Address, f.Brand, f.Kind = first, fps[0].Brand, fps[0].Kind
		f.Note = "identity not read: " + clip(last.Error(), 160)
	}
	return f, true
}

// toCandidate checks an announcement and says which driver it hints at.
func toCandidate(svc Service, e *zeroconf.ServiceEntry, local []netip.Prefix) (candidate, bool) {
	if e == nil {
		return candidate{}, false
	}
	addr, ok := pickAddr(e.AddrIPv4, local)
	if !ok {
		return candidate{}, false
	}
	c := candidate{driver: svc.Driver, addr: addr.String(), host: clean(strings.TrimSuffix(e.HostName, ".")),
		service: clean(e.Instance + "." + svc.Type), generic: svc.Driver == ""}
	if e.Port > 0 && e.Port <= 65535 {
		c.port = e.Port
	}
	if c.generic {
		c.driver = hintDriver(e.Instance, e.HostName, parseTXT(e.Text))
		if c.driver == "" {
			return candidate{}, false
		}
	}
	return c, true
}

// pickAddr returns the first announced address discovery may contact:
// a private, shared or link-local IPv4 address, or one inside a subnet of
// this machine's interfaces. Announcements naming loopback, multicast or
// far-away public addresses are ignored: mDNS is link-local, and a
// spoofed record must not make evbridge connect anywhere else.
func pickAddr(ips []net.IP, local []netip.Prefix) (netip.Addr, bool) {
	for i, ip := range ips {
		if i >= 8 {
			break
		}
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		if !a.Is4() || a.IsLoopback() || a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			continue
		}
		if a.IsPrivate() || a.IsLinkLocalUnicast() || cgnat.Contains(a) || inAny(local, a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// localPrefixes returns the IPv4 subnets of ifaces (all interfaces when
// none are given).
func localPrefixes(ifaces []net.Interface) []netip.Prefix {
	if len(ifaces) == 0 {
		ifaces, _ = net.Interfaces()
	}
	var out []netip.Prefix
	for _, ifi := range ifaces {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if p, err := netip.ParsePrefix(n.String()); err == nil && p.Addr().Is4() {
					out = append(out, p.Masked())
				}
			}
		}
	}
	return out
}

// hintDriver guesses the driver of a generic (_http._tcp) announcement
// from its instance name, host name and TXT record: OpenEVSE hosts are
// openevse-xxxx (protocols.md §2), Shelly Gen2+ add TXT gen (§17), older
// go-e firmware announced _http._tcp (API-v2 issue #108). Only a hint:
// the fingerprint decides.
func hintDriver(instance, host string, txt map[string]string) string {
	s := strings.ToLower(instance + " " + host + " " + txt["app"] + " " + txt["type"])
	switch {
	case strings.Contains(s, "openevse"):
		return "openevse"
	case strings.Contains(s, "go-e"), strings.Contains(s, "goe-charger"), strings.Contains(s, "goecharger"):
		return "goe"
	case strings.Contains(s, "shelly"):
		return "shelly"
	}
	return ""
}

// parseTXT reads DNS-SD key=value strings (RFC 6763 §6): keys are
// case-insensitive printable ASCII without '=', the first occurrence of
// a key wins, a string without '=' is a boolean key. At most maxTXT
// strings are read; values are cleaned and cut to maxField bytes.
func parseTXT(txt []string) map[string]string {
	out := map[string]string{}
	for i, s := range txt {
		if i >= maxTXT {
			break
		}
		k, v, _ := strings.Cut(s, "=")
		if k == "" || len(k) > maxField || strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
			continue
		}
		k = strings.ToLower(k)
		if _, dup := out[k]; !dup {
			out[k] = clean(v)
		}
	}
	return out
}
