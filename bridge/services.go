package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/evbridge/evbridge/bridge/charger"
)

// stopServices stops the services, last started first, and waits for
// each.
func (b *Bridge) stopServices() {
	for i := len(b.serviceStops) - 1; i >= 0; i-- {
		b.serviceStops[i]()
	}
	b.serviceStops = nil
}

// startServices starts the driver services (such as the OCPP central
// system) that the config has a block for or that a charger's driver
// needs, before the charger workers poll.
func (b *Bridge) startServices(ctx context.Context) error {
	for _, svc := range charger.Services() {
		opts, configured := b.cfg.Services[svc.Name]
		used := configured
		for _, c := range b.cfg.Chargers {
			used = used || slices.Contains(svc.Drivers, c.Driver)
		}
		if !used {
			continue
		}
		if opts == nil && svc.NewOptions != nil {
			opts = svc.NewOptions()
		}
		log := b.log.With("service", svc.Name)
		stop, err := svc.Start(ctx, opts, serviceHost{b}, log)
		if err != nil {
			return fmt.Errorf("%s: %w", svc.Name, err)
		}
		if stop != nil {
			b.serviceStops = append(b.serviceStops, stop)
		}
		log.Info("service started", "title", svc.Title)
	}
	return nil
}

// serviceHost is what a driver service may ask of the core: offering a
// device that connected by itself.
type serviceHost struct{ b *Bridge }

// Offer hands the device to the core as a runtime candidate; it never
// blocks the caller (a connection handler).
func (h serviceHost) Offer(o charger.Offer) {
	c := Candidate{ID: o.Driver + ":" + o.Address, Driver: o.Driver, Address: o.Address,
		Brand: o.Identity.Brand, Model: o.Identity.Model, Serial: o.Identity.Serial, Firmware: o.Identity.Firmware,
		FoundBy: o.Driver}
	h.b.offers.push(queuedOffer{c, !o.Pending && o.Online})
}

type queuedOffer struct {
	candidate Candidate
	autoAdd   bool
}

// offerQueue hands the services' offers to the core one at a time, in
// the order they were made: a charge point's offer at connect (no
// identity yet) must not overtake its offer at boot (brand, serial), or
// the pending list keeps the older one, and with auto-add both could
// become chargers.
type offerQueue struct {
	mu    sync.Mutex
	items []queuedOffer
	wake  chan struct{} // one slot: "there is something to take"
}

func newOfferQueue() *offerQueue { return &offerQueue{wake: make(chan struct{}, 1)} }

func (q *offerQueue) push(o queuedOffer) {
	q.mu.Lock()
	q.items = append(q.items, o)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // already woken
	}
}

// run passes the offers to take, in order, until ctx ends.
func (q *offerQueue) run(ctx context.Context, take func(queuedOffer)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, o := range items {
			if ctx.Err() != nil {
				return
			}
			take(o)
		}
	}
}
