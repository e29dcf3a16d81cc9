package abl

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A to the configured maximum (at most 32 A), 0.1 A steps.
func (c *Charger) CurrentRange() (lo, hi, step float64) { return minCurrent, c.maxAmps, currentStep }

// SetCurrent sets the current offered while enabled (see package
// setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or stops charging by writing the current or 0.
// Enabling with no current set yet offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// tenths is the value of 0x3032 for amps (0.1 A units).
func tenths(amps float64) uint16 { return uint16(math.Round(amps * 10)) }

// writeAmps writes 0x3032 for the setpoint keeper.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.cl.WriteSingle(ctx, regMaxCurrent+c.off, tenths(amps))
}

// RefreshInterval is a third of the configured upstream timeout.
func (c *Charger) RefreshInterval() time.Duration {
	if c.opts.WatchdogTimeout <= 0 {
		return time.Minute
	}
	return time.Duration(c.opts.WatchdogTimeout) * time.Second / 3
}

// Refresh talks to the box (one read of the status block) so that its
// upstream timeout does not run out. After an F4, or if the current is
// not the driver's, it writes the current back; before any command it
// adopts the box's current.
func (c *Charger) Refresh(ctx context.Context) error {
	regs, err := c.cl.Read(ctx, 0, regState+c.off, 2)
	if err != nil {
		return fmt.Errorf("abl_em4: refresh: %w", err)
	}
	state, set := uint8(regs[0]), regs[1]
	if c.sp.Adopt(float64(set) / 10) {
		c.log.Info("adopting the current the box holds", "amps", float64(set)/10)
	}
	amps, _ := c.sp.Wanted()
	want := tenths(amps)
	if set == want && state != 0xF4 {
		return nil
	}
	c.log.Warn("box left the setpoint, writing it back", "state", fmt.Sprintf("0x%02X", state), "read", set, "want", want)
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("abl_em4: restore setpoint: %w", err)
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
