package quasar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// CurrentRange is 6 A to the lower of the configured maximum and the
// Quasar 1's 32 A, in whole amperes (register 258).
func (c *Charger) CurrentRange() (lo, hi, step float64) { return minCurrent, c.maxAmps, 1 }

// SetCurrent sets the current offered while enabled, rounded down to whole
// amperes; anything outside CurrentRange is refused before any write
// (see package setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled starts (257 = 1, with the kept current) or stops (257 = 2)
// charging. Enabling with no current known offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps applies what the setpoint keeper wants: amps > 0 starts
// charging at amps, 0 stops. It is the one place that writes a setpoint,
// and it refuses anything negative or above the maximum whatever the
// caller checked. A write refused with illegal data value (the charger
// dropped remote control, e.g. after its idle timeout) takes control
// again and is retried once.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	if math.IsNaN(amps) || amps < 0 || amps > c.maxAmps || amps > 0 && amps < minCurrent {
		return fmt.Errorf("refusing to write %v A: allowed are 0 and %g..%g A", amps, minCurrent, c.maxAmps)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	took, err := c.apply(ctx, amps)
	if err != nil && !took && errors.Is(err, modbusx.ErrIllegalValue) {
		c.setHeld(false)
		_, err = c.apply(ctx, amps)
	}
	return err
}

// apply writes control (when not known to be held), current and action;
// the caller holds wmu. took tells whether it took control.
func (c *Charger) apply(ctx context.Context, amps float64) (took bool, err error) {
	c.mu.Lock()
	held := c.held
	c.mu.Unlock()
	if !held {
		if err := c.cl.WriteSingle(ctx, regControl, controlRemote); err != nil {
			return true, fmt.Errorf("take remote control: %w", err)
		}
		if err := c.cl.WriteSingle(ctx, regSetpointTyp, typeCurrent); err != nil {
			return true, fmt.Errorf("select current setpoints: %w", err)
		}
		c.mu.Lock()
		c.held, c.ctrl.mode, c.ctrl.typ = true, controlRemote, typeCurrent
		c.mu.Unlock()
		took = true
	}
	if amps == 0 {
		if err := c.cl.WriteSingle(ctx, regAction, actionStop); err != nil {
			return took, fmt.Errorf("stop: %w", err)
		}
		return took, nil
	}
	if err := c.cl.WriteSingle(ctx, regCurrent, uint16(amps)); err != nil {
		return took, fmt.Errorf("write current: %w", err)
	}
	if err := c.cl.WriteSingle(ctx, regAction, actionStart); err != nil {
		return took, fmt.Errorf("start: %w", err)
	}
	return took, nil
}

func (c *Charger) setHeld(held bool) {
	c.mu.Lock()
	c.held = held
	c.mu.Unlock()
}

// idleTimeout is the timeout the driver assumes the charger runs.
func (c *Charger) idleTimeout() time.Duration {
	if c.opts.IdleTimeout > 0 {
		return time.Duration(c.opts.IdleTimeout) * time.Second
	}
	return defaultIdleTimeout * time.Second
}

// RefreshInterval is a quarter of the idle timeout.
func (c *Charger) RefreshInterval() time.Duration {
	return max(c.idleTimeout()/4, 250*time.Millisecond)
}

// Refresh keeps the charger from going idle. Once the driver has
// commanded (or adopted) a setpoint it rewrites it, taking control back
// if the charger dropped it, and sets the idle timeout of the options.
// Before that it only reads: a charger under remote control has its
// setpoint adopted, so that a restart of evbridge changes nothing; one
// under user control is left to its user.
func (c *Charger) Refresh(ctx context.Context) error {
	if _, _, known := c.sp.State(); !known {
		if err := c.adopt(ctx); err != nil {
			return fmt.Errorf("wallbox_quasar: refresh: %w", err)
		}
		if _, _, known := c.sp.State(); !known {
			return nil
		}
	}
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("wallbox_quasar: refresh: %w", err)
	}
	c.mu.Lock()
	want, seen := c.opts.IdleTimeout, c.ctrl.idle
	c.mu.Unlock()
	if want > 0 && seen != want {
		c.wmu.Lock()
		err := c.cl.WriteSingle(ctx, regIdleTimeout, uint16(want))
		c.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("wallbox_quasar: refresh: write idle timeout: %w", err)
		}
		c.mu.Lock()
		c.ctrl.idle = want
		c.mu.Unlock()
	}
	return nil
}

// adopt reads the control and setpoint registers and, if the charger is
// under remote current control, takes over what it does.
func (c *Charger) adopt(ctx context.Context) error {
	b, err := c.cl.ReadPlan(ctx, c.ctrlPlan)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.applyControl(b)
	ctrl := c.ctrl
	c.mu.Unlock()
	if ctrl.mode != controlRemote || ctrl.typ != typeCurrent {
		return nil
	}
	if err := c.readInto(ctx, c.actionPlan, b); err != nil {
		return err
	}
	r := decodeStatus(b)
	amps := 0.0
	if r.action == actionStart && r.curOK && r.current > 0 {
		amps = math.Min(float64(r.current), c.maxAmps)
	}
	if c.sp.Adopt(amps) {
		c.log.Info("adopting what the charger does under remote control", "amps", amps, "action", r.action)
	}
	return nil
}

var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
)
