package discover

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Probe actively looks for devices in subnet (CIDR, or one address): it
// connects to each address on Options.Ports and fingerprints every port
// that takes the connection with the fingerprinters registered for it.
// At most Options.Concurrency hosts are worked on at once; each connect
// and request is bounded by Options.ConnTimeout. A subnet larger than
// Options.MaxPrefix allows is refused with ErrSubnetTooLarge before
// anything is sent. Probe sends nothing unless called: evbridge calls it
// only for subnets the user named.
func Probe(ctx context.Context, subnet string, opts Options) ([]Found, error) {
	o := opts.withDefaults()
	prefix, err := ParseSubnet(subnet, o.MaxPrefix)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	hosts := make(chan netip.Addr)
	go func() {
		defer close(hosts)
		for a := range hostsOf(prefix) {
			select {
			case hosts <- a:
			case <-ctx.Done():
				return
			}
		}
	}()
	hc := newHTTPClient(o)
	defer hc.CloseIdleConnections()
	var (
		mu  sync.Mutex
		out []Found
		wg  sync.WaitGroup
	)
	for range min(o.Concurrency, hostCount(prefix)) {
		wg.Go(func() {
			for a := range hosts {
				for _, f := range probeHost(ctx, o, hc, a) {
					mu.Lock()
					out = append(out, f)
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		fs := probeKEBA(ctx, o, prefix)
		mu.Lock()
		out = append(out, fs...)
		mu.Unlock()
	})
	wg.Wait()
	sortFound(out)
	o.Logger.Debug("probe done", "subnet", prefix, "found", len(out), "took", time.Since(start))
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("probe %s: %w", prefix, err)
	}
	return out, nil
}

// probeHost fingerprints every probed port of one address, the ports in
// parallel.
func probeHost(ctx context.Context, o Options, hc *http.Client, a netip.Addr) []Found {
	var (
		mu  sync.Mutex
		out []Found
		wg  sync.WaitGroup
	)
	for _, port := range o.Ports {
		fps := o.Registry.ForPort(port)
		if len(fps) == 0 {
			continue
		}
		wg.Go(func() {
			f, err := firstMatch(ctx, o, hc, fps, a.String(), port)
			if err != nil {
				return
			}
			f.FoundBy = ByProbe
			mu.Lock()
			out = append(out, f)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// ParseSubnet parses a CIDR or a single address and refuses subnets with
// more addresses than an IPv4 /maxPrefix (IPv6 subnets are held to the
// same count).
func ParseSubnet(s string, maxPrefix int) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q: want a CIDR such as 192.168.1.0/24: %w", s, err)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("subnet %q: zones are not supported", s)
	}
	p = p.Masked()
	if maxPrefix <= 0 || maxPrefix > 32 {
		maxPrefix = DefaultMaxPrefix
	}
	if hostBits(p) > 32-maxPrefix {
		return netip.Prefix{}, fmt.Errorf("%w: %s has %s addresses, more than the %d of a /%d",
			ErrSubnetTooLarge, p, countText(hostBits(p)), 1<<(32-maxPrefix), maxPrefix)
	}
	return p, nil
}

func hostBits(p netip.Prefix) int { return p.Addr().BitLen() - p.Bits() }

func countText(bits int) string {
	if bits >= 63 {
		return fmt.Sprintf("2^%d", bits)
	}
	return fmt.Sprint(uint64(1) << bits)
}

// hostCount is the number of addresses hostsOf yields (p is within the cap).
func hostCount(p netip.Prefix) int {
	n := 1 << hostBits(p)
	if p.Addr().Is4() && hostBits(p) >= 2 {
		n -= 2
	}
	return max(n, 1)
}

// hostsOf yields the addresses of p to probe: all of them, less the
// network and broadcast addresses of IPv4 subnets of four or more, and
// never the unspecified address (connecting to it reaches this machine).
func hostsOf(p netip.Prefix) func(yield func(netip.Addr) bool) {
	return func(yield func(netip.Addr) bool) {
		a, n := p.Addr(), 1<<hostBits(p)
		skipEnds := p.Addr().Is4() && hostBits(p) >= 2
		for i := 0; i < n && a.IsValid(); i, a = i+1, a.Next() {
			if skipEnds && (i == 0 || i == n-1) || a.IsUnspecified() {
				continue
			}
			if !yield(a) {
				return
			}
		}
	}
}

// sortFound orders finds by address, then driver.
func sortFound(fs []Found) {
	sort.SliceStable(fs, func(i, j int) bool {
		ai, ei := netip.ParseAddrPort(fs[i].Address)
		aj, ej := netip.ParseAddrPort(fs[j].Address)
		if ei == nil && ej == nil && ai != aj {
			return ai.Compare(aj) < 0
		}
		if fs[i].Address != fs[j].Address {
			return fs[i].Address < fs[j].Address
		}
		return fs[i].Driver < fs[j].Driver
	})
}
