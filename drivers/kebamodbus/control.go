package kebamodbus

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A to the configured maximum (at most 63 A), in mA.
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	return minCurrent, c.maxAmps, currentStep
}

// configure writes the failsafe options once, before the first poll.
func (c *Charger) configure(ctx context.Context) error {
	c.mu.Lock()
	done := c.configured || c.opts.FailsafeTimeout == 0
	c.mu.Unlock()
	if done {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fs := uint16(math.Round(c.opts.FailsafeCurrent * 1000))
	if err := c.cl.WriteSingle(ctx, regSetFailCurrent, fs); err != nil {
		return fmt.Errorf("keba_modbus: set failsafe current: %w", err)
	}
	if err := c.cl.WriteSingle(ctx, regSetFailTimeout, uint16(c.opts.FailsafeTimeout)); err != nil {
		return fmt.Errorf("keba_modbus: set failsafe timeout: %w", err)
	}
	c.mu.Lock()
	c.configured = true
	c.vals[regFailsafeTimeout] = uint32(c.opts.FailsafeTimeout)
	c.vals[regFailsafeCurrent] = uint32(fs)
	c.mu.Unlock()
	return nil
}

// SetCurrent sets the current offered while enabled; on a P40 a current
// set while disabled waits for the enable.
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	if math.IsNaN(amps) || amps < minCurrent || amps > c.maxAmps {
		return fmt.Errorf("keba_modbus: current %.3f A is outside %g..%g A", amps, minCurrent, c.maxAmps)
	}
	return c.command(ctx, "set current", func(p40 bool) (bool, bool) {
		c.amps = amps
		if !c.known {
			c.known, c.enabled = true, true
		}
		return c.enabled || !p40, false
	})
}

// SetEnabled allows or stops charging: 5014 on a P30, 5004 = 0 on a P40.
// Enabling also rewrites the current, as the station wants after a
// failsafe fallback.
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	return c.command(ctx, "set enabled", func(p40 bool) (bool, bool) {
		c.known, c.enabled = true, enabled
		if enabled && p40 && c.amps == 0 {
			c.amps = minCurrent
		}
		return p40 || enabled && c.amps > 0, !p40
	})
}

// command applies change under the lock; it tells whether to write the
// current (5004) and whether to write the P30 enable (5014).
func (c *Charger) command(ctx context.Context, what string, change func(p40 bool) (current, enable bool)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p40, err := c.isP40(ctx)
	if err != nil {
		return fmt.Errorf("keba_modbus: %s: %w", what, err)
	}
	c.mu.Lock()
	wCur, wEna := change(p40)
	c.mu.Unlock()
	if err := c.write(ctx, wCur, wEna, p40); err != nil {
		return fmt.Errorf("keba_modbus: %s: %w", what, err)
	}
	return nil
}

func (c *Charger) write(ctx context.Context, current, enable, p40 bool) error {
	c.mu.Lock()
	mA := uint16(math.Round(c.amps * 1000))
	on := c.enabled
	c.urgent = append(c.urgent, regMaxCurrent)
	c.mu.Unlock()
	if p40 && !on {
		mA = 0
	}
	if current {
		if err := c.cl.WriteSingle(ctx, regSetCurrent, mA); err != nil {
			return err
		}
	}
	if enable {
		v := uint16(0)
		if on {
			v = 1
		}
		return c.cl.WriteSingle(ctx, regEnable, v)
	}
	return nil
}

// isP40 reads the product code unless known.
func (c *Charger) isP40(ctx context.Context) (bool, error) {
	c.mu.Lock()
	_, ok := c.vals[regProduct]
	c.mu.Unlock()
	if !ok {
		if err := c.read(ctx, regProduct); err != nil {
			return false, fmt.Errorf("read product: %w", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return reading{vals: c.vals}.p40(), nil
}

// failsafe is the failsafe timeout in force, s (0: none), and whether
// it is known yet.
func (c *Charger) failsafe() (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.FailsafeTimeout > 0 {
		return uint32(c.opts.FailsafeTimeout), true
	}
	t, ok := c.vals[regFailsafeTimeout]
	return t, ok
}

// RefreshInterval is a third of the failsafe timeout, or 30 s when the
// station has none (or before it is known: the first polls read it).
func (c *Charger) RefreshInterval() time.Duration {
	if t, _ := c.failsafe(); t > 0 {
		return max(time.Duration(t)*time.Second/3, 300*time.Millisecond)
	}
	return 30 * time.Second
}

// Refresh re-arms the failsafe timer by rewriting its timeout (5018), as
// evcc does. If the station fell back anyway (1100 is not what the driver
// set), it writes the current and enable back.
func (c *Charger) Refresh(ctx context.Context) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	t, ok := c.failsafe()
	if !ok {
		if err := c.read(ctx, regFailsafeTimeout); err != nil {
			return fmt.Errorf("keba_modbus: refresh: %w", err)
		}
		t, _ = c.failsafe()
	}
	if t == 0 {
		return nil
	}
	if err := c.cl.WriteSingle(ctx, regSetFailTimeout, uint16(t)); err != nil {
		return fmt.Errorf("keba_modbus: refresh failsafe: %w", err)
	}
	c.mu.Lock()
	known, on, mA := c.known, c.enabled, uint32(math.Round(c.amps*1000))
	c.mu.Unlock()
	if !known {
		return nil
	}
	if err := c.read(ctx, regMaxCurrent); err != nil {
		return fmt.Errorf("keba_modbus: refresh: %w", err)
	}
	c.mu.Lock()
	got := c.vals[regMaxCurrent]
	p40 := reading{vals: c.vals}.p40()
	c.mu.Unlock()
	if !on {
		mA = 0
	}
	if got == mA {
		return nil
	}
	c.log.Warn("station left the setpoint (failsafe?), writing it back", "offered_mA", got, "want_mA", mA)
	if err := c.write(ctx, c.amps > 0, !p40, p40); err != nil {
		return fmt.Errorf("keba_modbus: restore setpoint: %w", err)
	}
	return nil
}

// SetPhases hands the phase switch to Modbus (5050 = 3) if needed and
// selects 1 or 3 phases (5052).
func (c *Charger) SetPhases(ctx context.Context, phases int) error {
	if !c.opts.PhaseSwitching {
		return fmt.Errorf("keba_modbus: phase switching is off in the options: %w", charger.ErrNotSupported)
	}
	if phases != 1 && phases != 3 {
		return fmt.Errorf("keba_modbus: phases must be 1 or 3, not %d", phases)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.read(ctx, regPhaseSource); err != nil {
		return fmt.Errorf("keba_modbus: read phase source: %w", err)
	}
	c.mu.Lock()
	src := c.vals[regPhaseSource]
	c.urgent = append(c.urgent, regPhaseState)
	c.mu.Unlock()
	if src != phaseSourceModbus {
		if err := c.cl.WriteSingle(ctx, regSetPhaseSource, phaseSourceModbus); err != nil {
			return fmt.Errorf("keba_modbus: set phase source: %w", err)
		}
	}
	v := uint16(0)
	if phases == 3 {
		v = 1
	}
	if err := c.cl.WriteSingle(ctx, regSetPhases, v); err != nil {
		return fmt.Errorf("keba_modbus: set phases: %w", err)
	}
	return nil
}

// Charger implements these; built without phase switching it is handed
// out as fixedPhases, which hides SetPhases from the core.
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
