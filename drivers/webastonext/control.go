package webastonext

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// CurrentRange is what the driver offers: the IEC minimum, the lower of
// the configured and the Next's maximum, in whole amperes (register 5004).
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	return minCurrent, c.maxAmps, 1
}

// SetCurrent sets the current offered while enabled, rounded down to whole
// amperes (see package setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or pauses charging by writing the current or 0 A to
// 5004. Enabling with no current known offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps writes 5004 for the setpoint keeper.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.cl.WriteSingle(ctx, regChargeAmps, uint16(amps))
}

// SetPower asks for a charging power in watts (register 5000), which the
// station turns into a current. It is not part of the charger contract:
// the core steers by current; a later SetCurrent or refresh overrides it.
func (c *Charger) SetPower(ctx context.Context, watts float64) error {
	if math.IsNaN(watts) || watts < 0 || watts > maxCurrent*230*3 {
		return fmt.Errorf("webasto_next: power %.0f W is outside 0..%.0f W", watts, maxCurrent*230*3)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.cl.Write(ctx, regChargePower, modbusx.EncodeUint32(uint32(watts), modbusx.HighWordFirst)); err != nil {
		return fmt.Errorf("webasto_next: set power: %w", err)
	}
	return nil
}

// StartSession and CancelSession write the charging action (5006): start
// a session the station holds back, or end the running one.
func (c *Charger) StartSession(ctx context.Context) error {
	return c.action(ctx, "start session", actionStart)
}

// CancelSession ends the running session; see StartSession.
func (c *Charger) CancelSession(ctx context.Context) error {
	return c.action(ctx, "cancel session", actionCancel)
}

func (c *Charger) action(ctx context.Context, what string, v uint16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.cl.WriteSingle(ctx, regChargeAction, v); err != nil {
		return fmt.Errorf("webasto_next: %s: %w", what, err)
	}
	return nil
}

// comTimeout is the timeout the driver assumes the station runs.
func (c *Charger) comTimeout() time.Duration {
	if c.opts.ComTimeout > 0 {
		return time.Duration(c.opts.ComTimeout) * time.Second
	}
	return defaultComTimeout * time.Second
}

// RefreshInterval is a quarter of the communication timeout.
func (c *Charger) RefreshInterval() time.Duration {
	return max(c.comTimeout()/4, 250*time.Millisecond)
}

// Refresh writes the life bit, then the current the driver keeps (5004
// cannot be read, and a lapse replaces it with the safe current), and the
// timeout and safe current of the options where the station shows others.
func (c *Charger) Refresh(ctx context.Context) error {
	if err := c.cl.WriteSingle(ctx, regLifeBit, 1); err != nil {
		return fmt.Errorf("webasto_next: write life bit: %w", err)
	}
	var errs []error
	c.mu.Lock()
	wantT, wantI := c.opts.ComTimeout, c.opts.SafeCurrent
	setT := wantT > 0 && c.comTimout != wantT
	setI := wantI > 0 && c.safe != wantI
	c.mu.Unlock()
	if setT {
		errs = append(errs, c.writeSetting(ctx, regComTimeout, wantT, &c.comTimout))
	}
	if setI {
		errs = append(errs, c.writeSetting(ctx, regSafeCurrent, wantI, &c.safe))
	}
	if _, err := c.sp.Rewrite(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("webasto_next: refresh: %w", err)
	}
	return nil
}

func (c *Charger) writeSetting(ctx context.Context, reg uint16, v int, seen *int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.cl.WriteSingle(ctx, reg, uint16(v)); err != nil {
		return err
	}
	c.mu.Lock()
	*seen = v
	c.mu.Unlock()
	return nil
}

var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
)
