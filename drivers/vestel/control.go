package vestel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is what the driver offers: the IEC minimum, the lower of
// the configured and the EVC04 maximum, in whole amperes (register 5004).
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	return minCurrent, c.maxAmps, 1
}

// SetCurrent sets the current offered while enabled, rounded down to whole
// amperes (see package setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or stops charging by writing the current or 0 A to
// 5004. Enabling with no current known offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps writes 5004 for the setpoint keeper and records what the
// station now holds.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	v := uint16(amps)
	if err := c.cl.WriteSingle(ctx, regChargingCurrent, v); err != nil {
		return err
	}
	c.mu.Lock()
	c.setpoint, c.setpointOK = float64(v), true
	c.mu.Unlock()
	return nil
}

// SetPhases selects one or three phases (register 405, fw ≥ 3.187.0).
func (c *Charger) SetPhases(ctx context.Context, phases int) error {
	if !c.opts.PhaseSwitching {
		return fmt.Errorf("vestel: phase switching is off in the options: %w", charger.ErrNotSupported)
	}
	if phases != 1 && phases != 3 {
		return fmt.Errorf("vestel: phases must be 1 or 3, not %d", phases)
	}
	c.mu.Lock()
	onePhase := c.installPhases == 1
	c.mu.Unlock()
	if onePhase && phases == 3 {
		return fmt.Errorf("vestel: the station is installed on one phase: %w", charger.ErrNotSupported)
	}
	if err := c.writePhases(ctx, phases); err != nil {
		return fmt.Errorf("vestel: set phases: %w", err)
	}
	c.mu.Lock()
	c.wantPhases = phases // kept (and re-written by Refresh) once the station took it
	c.mu.Unlock()
	return nil
}

func (c *Charger) writePhases(ctx context.Context, phases int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	v := uint16(0)
	if phases == 3 {
		v = 1
	}
	if err := c.cl.WriteSingle(ctx, regPhaseSwitch, v); err != nil {
		return err
	}
	c.mu.Lock()
	c.phaseSwitch = phases
	c.mu.Unlock()
	return nil
}

// failsafeTimeout is the timeout the driver assumes the station runs.
func (c *Charger) failsafeTimeout() time.Duration {
	if c.opts.FailsafeTimeout > 0 {
		return time.Duration(c.opts.FailsafeTimeout) * time.Second
	}
	return defaultFailsafe * time.Second
}

// RefreshInterval is a quarter of the failsafe timeout: the station
// checks the alive register every half of it.
func (c *Charger) RefreshInterval() time.Duration {
	return max(c.failsafeTimeout()/4, 250*time.Millisecond)
}

// Refresh writes the alive register, then the current and the phases the
// driver keeps (a failsafe replaces the current, and a dropped connection,
// even one modbusx re-opened unnoticed, resets the phases), and the
// failsafe settings of the options where the station shows others.
func (c *Charger) Refresh(ctx context.Context) error {
	if err := c.cl.WriteSingle(ctx, regAlive, 1); err != nil {
		return fmt.Errorf("vestel: write alive register: %w", err)
	}
	var errs []error
	c.mu.Lock()
	wantT, wantI := c.opts.FailsafeTimeout, c.opts.FailsafeCurrent
	setT := wantT > 0 && c.fsTime != wantT
	setI := wantI > 0 && c.fsCurrent != wantI
	ph := c.wantPhases
	c.mu.Unlock()
	if setT {
		errs = append(errs, c.writeConfig(ctx, regFailsafeTimeout, wantT, &c.fsTime))
	}
	if setI {
		errs = append(errs, c.writeConfig(ctx, regFailsafeCurrent, wantI, &c.fsCurrent))
	}
	if _, err := c.sp.Rewrite(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.opts.PhaseSwitching && ph != 0 {
		errs = append(errs, c.writePhases(ctx, ph))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vestel: refresh: %w", err)
	}
	return nil
}

func (c *Charger) writeConfig(ctx context.Context, reg uint16, v int, seen *int) error {
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

// Charger implements these; a Charger built without phase switching is
// handed out as fixedPhases, which hides SetPhases from the core.
var (
	_ charger.Charger       = (*Charger)(nil)
	_ charger.CurrentSetter = (*Charger)(nil)
	_ charger.Enabler       = (*Charger)(nil)
	_ charger.PhaseSwitcher = (*Charger)(nil)
	_ charger.Watchdogged   = (*Charger)(nil)
	_ charger.Closer        = (*Charger)(nil)
	_ charger.Watchdogged   = fixedPhases{}
)

// fixedPhases is a Charger without the PhaseSwitcher capability.
type fixedPhases struct{ c *Charger }

func (f fixedPhases) Poll(ctx context.Context) (charger.State, error) { return f.c.Poll(ctx) }
func (f fixedPhases) SetCurrent(ctx context.Context, a float64) error { return f.c.SetCurrent(ctx, a) }
func (f fixedPhases) CurrentRange() (lo, hi, step float64)            { return f.c.CurrentRange() }
func (f fixedPhases) SetEnabled(ctx context.Context, on bool) error   { return f.c.SetEnabled(ctx, on) }
func (f fixedPhases) RefreshInterval() time.Duration                  { return f.c.RefreshInterval() }
func (f fixedPhases) Refresh(ctx context.Context) error               { return f.c.Refresh(ctx) }
func (f fixedPhases) Close() error                                    { return f.c.Close() }
