package heidelberg

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A to the lower of the configured maximum and the
// box's hardware maximum (register 100, once read), in 0.1 A steps.
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hi = c.maxAmps
	if c.hw.hwMax >= minCurrent {
		hi = min(hi, float64(c.hw.hwMax))
	}
	return minCurrent, hi, currentStep
}

// configure makes the box's watchdog, failsafe and standby registers what
// the options ask, writing only what differs.
func (c *Charger) configure(ctx context.Context, ctl control) error {
	var writes [][2]uint16
	if t := c.opts.WatchdogTimeout; t > 0 && ctl.watchdogMS != uint16(t) {
		writes = append(writes, [2]uint16{regWatchdog, uint16(t)})
	}
	if f := c.opts.FailsafeCurrent; f != nil && ctl.failsafe != uint16(math.Round(*f*10)) {
		writes = append(writes, [2]uint16{regFailsafe, uint16(math.Round(*f * 10))})
	}
	if c.opts.Standby == "disable" && ctl.standby != standbyOff {
		writes = append(writes, [2]uint16{regStandby, standbyOff})
	}
	for _, w := range writes {
		if err := c.cl.WriteSingle(ctx, w[0], w[1]); err != nil {
			return fmt.Errorf("heidelberg: configure register %d: %w", w[0], err)
		}
		c.log.Info("configured the box", "register", w[0], "value", w[1])
	}
	c.mu.Lock()
	if t := c.opts.WatchdogTimeout; t > 0 {
		c.ctl.watchdogMS = uint16(t)
	}
	c.mu.Unlock()
	return nil
}

// SetCurrent sets the current offered while enabled, within what the box
// reports it takes (see package setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	if _, hi, _ := c.CurrentRange(); amps > hi {
		return fmt.Errorf("heidelberg: current %.2f A is outside %g..%g A", amps, minCurrent, hi)
	}
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or stops charging by writing the current or 0.
// Enabling with no current set yet offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// tenths is the value of register 261 for amps (0.1 A units).
func tenths(amps float64) uint16 { return uint16(math.Round(amps * 10)) }

// writeAmps writes 261 for the setpoint keeper and records it.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	v := tenths(amps)
	if err := c.cl.WriteSingle(ctx, regMaxCurrent, v); err != nil {
		return err
	}
	c.mu.Lock()
	c.ctl.setpoint = v
	c.mu.Unlock()
	return nil
}

// RefreshInterval is a third of the box's watchdog timeout (15 s until
// the first poll has read it).
func (c *Charger) RefreshInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.Duration(c.ctl.watchdogMS) * time.Millisecond
	if c.opts.WatchdogTimeout > 0 {
		t = time.Duration(c.opts.WatchdogTimeout) * time.Millisecond
	}
	if t == 0 {
		return 15 * time.Second
	}
	return max(t/3, 100*time.Millisecond)
}

// Refresh talks to the box so its watchdog does not run out: it reads
// the control block and, if the box left the driver's current (a
// fallback), writes it back. Before any command it only reads.
func (c *Charger) Refresh(ctx context.Context) error {
	b, err := c.cl.ReadPlan(ctx, c.plan)
	if err != nil {
		return fmt.Errorf("heidelberg: refresh: %w", err)
	}
	ctl := decodeControl(b)
	c.mu.Lock()
	c.ctl, c.ctlOK = ctl, true
	c.mu.Unlock()
	amps, known := c.sp.Wanted()
	want := tenths(amps)
	if !known || ctl.setpoint == want {
		return nil
	}
	c.log.Warn("box left the setpoint (watchdog fallback?), writing it back", "read", ctl.setpoint, "want", want)
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("heidelberg: restore setpoint: %w", err)
	}
	return nil
}

// Charger implements these (no phase switch on this box).
var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
)
