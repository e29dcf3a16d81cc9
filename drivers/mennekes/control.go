package mennekes

import (
	"context"
	"fmt"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A to the configured maximum (at most 32 A), in whole
// amps as both maps take them.
func (c *Charger) CurrentRange() (lo, hi, step float64) { return minCurrent, c.maxAmps, 1 }

// SetCurrent sets the current offered while enabled, rounded down to
// whole amps (see package setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or stops charging by writing the current or 0.
// Enabling with no current set yet offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps writes the limit register for the setpoint keeper.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.cl.WriteSingle(ctx, c.limitReg, uint16(amps))
}

// RefreshInterval is a third of the configured watchdog timeout.
func (c *Charger) RefreshInterval() time.Duration {
	if c.opts.WatchdogTimeout <= 0 {
		return time.Minute
	}
	return time.Duration(c.opts.WatchdogTimeout) * time.Second / 3
}

// Refresh rewrites the limit so the box keeps hearing from its energy
// manager; before any command it adopts the limit the box holds.
func (c *Charger) Refresh(ctx context.Context) error {
	if _, _, known := c.sp.State(); !known {
		regs, err := c.cl.Read(ctx, 0, c.limitReg, 1)
		if err != nil {
			return fmt.Errorf("mennekes: refresh: %w", err)
		}
		if c.sp.Adopt(float64(regs[0])) {
			c.log.Info("adopting the limit the box holds", "amps", regs[0])
		}
	}
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("mennekes: refresh: %w", err)
	}
	return nil
}

// Charger implements these; built without a watchdog_timeout it is
// handed out as noWatchdog, which hides Watchdogged from the core.
var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
	_ charger.Enabler       = noWatchdog{}
)

// noWatchdog is a Charger without the Watchdogged capability.
type noWatchdog struct{ c *Charger }

func (f noWatchdog) Poll(ctx context.Context) (charger.State, error) { return f.c.Poll(ctx) }
func (f noWatchdog) SetCurrent(ctx context.Context, a float64) error { return f.c.SetCurrent(ctx, a) }
func (f noWatchdog) CurrentRange() (lo, hi, step float64)            { return f.c.CurrentRange() }
func (f noWatchdog) SetEnabled(ctx context.Context, on bool) error   { return f.c.SetEnabled(ctx, on) }
func (f noWatchdog) Close() error                                    { return f.c.Close() }
