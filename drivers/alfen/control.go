package alfen

import (
	"context"
	"fmt"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// CurrentRange is what the driver offers: the IEC minimum, the lower of
// the configured and the platform maximum, and 0.1 A steps.
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	return minCurrent, c.maxAmps, currentStep
}

// SetCurrent sets the current offered while enabled (see package
// setpoint for the enable rules).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	return c.sp.SetCurrent(ctx, amps)
}

// SetEnabled allows or stops charging by writing the current or 0 A.
// Enabling with no current set yet offers the minimum, 6 A.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.sp.SetEnabled(ctx, enabled)
}

// writeAmps writes the setpoint (0 A when disabled) to 1210 in one FC16
// request, as ALF §1.3 requires for a FLOAT32.
func (c *Charger) writeAmps(ctx context.Context, amps float64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.sock.Write(ctx, regSetpoint, modbusx.EncodeFloat32(amps, modbusx.HighWordFirst))
}

// RefreshInterval is a third of the validity time: of the configured one,
// or of the shorter one the station shows (1208 counts down from it).
func (c *Charger) RefreshInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := uint32(c.opts.Validity)
	if c.validSeen > 0 && c.validSeen < v {
		v = c.validSeen
	}
	return max(time.Duration(v)*time.Second/3, 500*time.Millisecond)
}

// Refresh rewrites the setpoint before the validity time runs out. It
// writes nothing until a setpoint is known (commanded or adopted), so a
// restart never changes what the station does.
func (c *Charger) Refresh(ctx context.Context) error {
	if _, err := c.sp.Rewrite(ctx); err != nil {
		return fmt.Errorf("alfen: refresh setpoint: %w", err)
	}
	return nil
}

// SetPhases selects 1 or 3 phase charging (register 1215).
func (c *Charger) SetPhases(ctx context.Context, phases int) error {
	if !c.opts.PhaseSwitching {
		return fmt.Errorf("alfen: phase switching is off in the options: %w", charger.ErrNotSupported)
	}
	if phases != 1 && phases != 3 {
		return fmt.Errorf("alfen: phases must be 1 or 3, not %d", phases)
	}
	if err := c.sock.WriteSingle(ctx, regPhases, uint16(phases)); err != nil {
		return fmt.Errorf("alfen: set phases: %w", err)
	}
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
