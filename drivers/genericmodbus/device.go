package genericmodbus

import (
	"context"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Capability sets: the core finds a charger's capabilities by interface,
// so Device hands out a value with exactly the ones the definition has.
// Watchdogged is always there: with no watchdog its RefreshInterval is 0,
// which the core takes as "nothing to refresh".
type (
	base    struct{ c *Charger }
	current struct{ c *Charger }
	enabler struct{ c *Charger }
	phaser  struct{ c *Charger }
)

func (b base) Poll(ctx context.Context) (charger.State, error)    { return b.c.Poll(ctx) }
func (b base) Close() error                                       { return b.c.Close() }
func (b base) RefreshInterval() time.Duration                     { return b.c.RefreshInterval() }
func (b base) Refresh(ctx context.Context) error                  { return b.c.Refresh(ctx) }
func (x current) SetCurrent(ctx context.Context, a float64) error { return x.c.SetCurrent(ctx, a) }
func (x current) CurrentRange() (lo, hi, step float64)            { return x.c.CurrentRange() }
func (x enabler) SetEnabled(ctx context.Context, on bool) error   { return x.c.SetEnabled(ctx, on) }
func (x phaser) SetPhases(ctx context.Context, n int) error       { return x.c.SetPhases(ctx, n) }

type (
	withC struct {
		base
		current
	}
	withE struct {
		base
		enabler
	}
	withP struct {
		base
		phaser
	}
	withCE struct {
		base
		current
		enabler
	}
	withCP struct {
		base
		current
		phaser
	}
	withEP struct {
		base
		enabler
		phaser
	}
	withCEP struct {
		base
		current
		enabler
		phaser
	}
)

// Device returns the charger as the core should see it: Poll, Close and
// Watchdogged, plus CurrentSetter, Enabler and PhaseSwitcher where the
// definition has set_current, enable and phases with switching.
func (c *Charger) Device() charger.Charger {
	b, cu, en, ph := base{c}, current{c}, enabler{c}, phaser{c}
	hasC, hasE, hasP := c.d.setCur != nil, c.d.enableMode != EnableNone, c.d.switching
	switch {
	case hasC && hasE && hasP:
		return withCEP{b, cu, en, ph}
	case hasC && hasE:
		return withCE{b, cu, en}
	case hasC && hasP:
		return withCP{b, cu, ph}
	case hasE && hasP:
		return withEP{b, en, ph}
	case hasC:
		return withC{b, cu}
	case hasE:
		return withE{b, en}
	case hasP:
		return withP{b, ph}
	}
	return b
}

var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.PhaseSwitcher = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
	_ charger.Watchdogged   = base{}
	_ charger.PhaseSwitcher = withCEP{}
)
