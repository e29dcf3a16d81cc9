package bridge

import (
	"context"
	"time"

	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/discover"
)

// runDiscovery browses mDNS and probes the configured subnets every
// interval, and offers what it finds (see Offer): a new charger waits as
// pending or is added, a known one that moved is followed.
func (b *Bridge) runDiscovery(ctx context.Context) {
	dc := b.cfg.Discovery
	if !dc.MDNS && len(dc.Subnets) == 0 {
		return
	}
	opts := discover.Options{MaxPrefix: dc.MaxPrefix, Logger: b.log.With("component", "discovery")}
	for {
		b.discoverOnce(ctx, dc, opts)
		select {
		case <-ctx.Done():
			return
		case <-time.After(dc.Interval):
		}
	}
}

func (b *Bridge) discoverOnce(ctx context.Context, dc config.Discovery, opts discover.Options) {
	var found []discover.Found
	if dc.MDNS {
		f, err := discover.BrowseAll(ctx, opts)
		if err != nil {
			b.log.Warn("mDNS browse failed", "err", err)
		}
		found = append(found, f...)
	}
	for _, subnet := range dc.Subnets {
		f, err := discover.Probe(ctx, subnet, opts)
		if err != nil {
			b.log.Warn("probing failed", "subnet", subnet, "err", err)
		}
		found = append(found, f...)
	}
	for _, f := range found {
		b.offerFound(f, dc.Found == config.DiscoveryAdd)
	}
}

// offerFound offers a verified charger whose driver this build has.
func (b *Bridge) offerFound(f discover.Found, autoAdd bool) {
	if !f.Verified() || f.Kind != discover.KindCharger {
		return
	}
	if _, ok := b.opts.Registry.Lookup(f.Driver); !ok {
		return
	}
	b.Offer(Candidate{Driver: f.Driver, Address: f.Address, Brand: f.Brand, Model: f.Model,
		Serial: f.Serial, Firmware: f.Firmware, FoundBy: f.FoundBy}, autoAdd)
}
