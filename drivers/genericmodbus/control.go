package genericmodbus

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is the definition's range, the maximum narrowed by the
// charger's configured max_current.
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	return c.d.curMin, c.maxAmps, c.d.curStep
}

// SetCurrent sets the offered current. With enable mode current_zero, a
// current set while disabled is kept for the next enable (0 A is
// written again, which also refreshes the device's watchdog).
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	if c.d.setCur == nil {
		return fmt.Errorf("%s: set current: %w", DriverName, charger.ErrNotSupported)
	}
	if math.IsNaN(amps) || amps < c.d.curMin || amps > c.maxAmps {
		return fmt.Errorf("%s: current %.2f A is outside %g..%g A", DriverName, amps, c.d.curMin, c.maxAmps)
	}
	c.mu.Lock()
	if !c.known && c.d.enableMode == EnableCurrentZero {
		c.enabled, c.haveEn = true, true // a current from an unknown state means "charge at it"
	}
	c.amps, c.known = amps, true
	c.mu.Unlock()
	if err := c.writeSetpoint(ctx); err != nil {
		return fmt.Errorf("%s: set current: %w", DriverName, err)
	}
	return nil
}

// SetEnabled allows or stops charging: on/off to the enable register, or
// the current (the minimum if none was set) and 0 A in mode current_zero.
func (c *Charger) SetEnabled(ctx context.Context, on bool) error {
	var err error
	switch c.d.enableMode {
	case EnableRegister:
		v := c.d.off
		if on {
			v = c.d.on
		}
		if err = c.writeRegs(ctx, c.d.enableReg, v); err == nil {
			c.mu.Lock()
			c.enabled, c.haveEn = on, true
			c.mu.Unlock()
		}
	case EnableCurrentZero:
		c.mu.Lock()
		c.enabled, c.haveEn, c.known = on, true, true
		if on && c.amps == 0 {
			c.amps = c.d.curMin
		}
		c.mu.Unlock()
		err = c.writeSetpoint(ctx)
	default:
		err = charger.ErrNotSupported
	}
	if err != nil {
		return fmt.Errorf("%s: set enabled: %w", DriverName, err)
	}
	return nil
}

// SetPhases selects 1 or 3 phases.
func (c *Charger) SetPhases(ctx context.Context, phases int) error {
	var v []uint16
	switch {
	case !c.d.switching:
		return fmt.Errorf("%s: phases: %w", DriverName, charger.ErrNotSupported)
	case phases == 1:
		v = c.d.one
	case phases == 3:
		v = c.d.three
	default:
		return fmt.Errorf("%s: phases must be 1 or 3, not %d", DriverName, phases)
	}
	if err := c.writeRegs(ctx, c.d.phaseReg, v); err != nil {
		return fmt.Errorf("%s: set phases: %w", DriverName, err)
	}
	return nil
}

// RefreshInterval is the watchdog period.
func (c *Charger) RefreshInterval() time.Duration { return c.d.wdPeriod }

// Refresh keeps the watchdog alive: it rewrites the setpoint (once one
// is known: a restart never changes what the charger does), or writes
// the keep-alive value.
func (c *Charger) Refresh(ctx context.Context) error {
	var err error
	switch c.d.wdMode {
	case WatchdogRewrite:
		c.mu.Lock()
		known := c.known
		c.mu.Unlock()
		if known {
			err = c.writeSetpoint(ctx)
		}
	case WatchdogWrite:
		err = c.writeRegs(ctx, c.d.wdReg, c.d.wdValue)
	}
	if err != nil {
		return fmt.Errorf("%s: watchdog: %w", DriverName, err)
	}
	return nil
}

// writeSetpoint writes the wanted current: 0 A while disabled in mode
// current_zero.
func (c *Charger) writeSetpoint(ctx context.Context) error {
	c.wmu.Lock() // the last write always carries the latest wanted state
	defer c.wmu.Unlock()
	c.mu.Lock()
	v := c.amps
	if c.d.enableMode == EnableCurrentZero && !c.enabled {
		v = 0
	}
	c.mu.Unlock()
	regs, err := encode(c.d.setCur.v, v)
	if err != nil {
		return err
	}
	return c.writeRegs(ctx, c.d.setCur, regs)
}

// writeRegs writes a register: FC6 for one register unless the
// connection asks for FC16, FC16 for more.
func (c *Charger) writeRegs(ctx context.Context, f *field, regs []uint16) error {
	cl := c.clients[f.unit]
	if len(regs) == 1 && !c.d.fc16 {
		return cl.WriteSingle(ctx, f.v.Addr, regs[0])
	}
	return cl.Write(ctx, f.v.Addr, regs)
}
