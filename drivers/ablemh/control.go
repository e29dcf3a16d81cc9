package ablemh

import (
	"context"
	"fmt"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A to the configured maximum (at most 32 A), in the
// controller's 0.06 A steps.
func (c *Charger) CurrentRange() (lo, hi, step float64) { return minCurrent, c.maxAmps, ampsPerUnit }

// SetCurrent sets the current offered while enabled (see package
// setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows charging (writing the current) or stops it (writing
// 0x03E8). Enabling with no current set yet offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps writes Icmax for the setpoint keeper; a current for an
// outlet last seen disabled (E0) first takes the box back to A1.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	disabled := c.code == 0xE0
	c.mu.Unlock()
	if amps > 0 && disabled {
		c.log.Info("outlet disabled (E0), switching it back to A1")
		if err := c.write(ctx, regModify, modifyA1); err != nil {
			return fmt.Errorf("leave E0: %w", err)
		}
		c.mu.Lock()
		c.code = 0
		c.mu.Unlock()
	}
	return c.write(ctx, regIcmax, units(amps))
}

// write sets one register with FC16, the controller's only write.
func (c *Charger) write(ctx context.Context, reg, v uint16) error {
	return c.cl.Write(ctx, reg, []uint16{v})
}

// RefreshInterval is a third of the configured upstream timeout.
func (c *Charger) RefreshInterval() time.Duration {
	if c.opts.UpstreamTimeout <= 0 {
		return time.Minute
	}
	return c.opts.UpstreamTimeout / 3
}

// Refresh talks to the box (one read of the status report) so that its
// upstream timeout does not run out. After an F4, or when the box left
// the driver's current, it writes the current back; before any command
// it adopts the box's current.
func (c *Charger) Refresh(ctx context.Context) error {
	r, err := c.readReport(ctx)
	if err != nil {
		return fmt.Errorf("abl_emh: refresh: %w", err)
	}
	if c.sp.Adopt(ampsOf(r.duty)) {
		c.log.Info("adopting the current the box holds", "amps", ampsOf(r.duty))
	}
	amps, _ := c.sp.Wanted()
	want := units(amps)
	if r.duty == want && r.code != 0xF4 && (r.code != 0xE0 || want == noCurrent) {
		return nil
	}
	c.log.Warn("box left the setpoint, writing it back", "state", fmt.Sprintf("0x%02X", r.code), "read", r.duty, "want", want)
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("abl_emh: restore setpoint: %w", err)
	}
	return nil
}

// Charger implements these; built without an upstream_timeout it is
// handed out as noWatchdog, which hides Watchdogged from the core.
var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
	_ charger.CurrentSetter = noWatchdog{}
	_ charger.Enabler       = noWatchdog{}
	_ charger.Closer        = noWatchdog{}
)

// noWatchdog is a Charger without the Watchdogged capability.
type noWatchdog struct{ c *Charger }

func (f noWatchdog) Poll(ctx context.Context) (charger.State, error) { return f.c.Poll(ctx) }
func (f noWatchdog) SetCurrent(ctx context.Context, a float64) error { return f.c.SetCurrent(ctx, a) }
func (f noWatchdog) CurrentRange() (lo, hi, step float64)            { return f.c.CurrentRange() }
func (f noWatchdog) SetEnabled(ctx context.Context, on bool) error   { return f.c.SetEnabled(ctx, on) }
func (f noWatchdog) Close() error                                    { return f.c.Close() }
