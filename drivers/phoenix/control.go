package phoenix

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is what the driver offers: the IEC minimum, the lower of
// the configured and the platform maximum, in whole amperes, or 0.1 A on
// wallbe's extended firmware once it is known.
func (c *Charger) CurrentRange() (lo, hi, step float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detected && c.wallbe {
		return minCurrent, c.maxAmps, 0.1
	}
	return minCurrent, c.maxAmps, 1
}

// SetCurrent writes the max charging current (528), rounded down to the
// firmware's step. With the variant still unknown it reads 528 first.
func (c *Charger) SetCurrent(ctx context.Context, amps float64) error {
	if math.IsNaN(amps) || amps < minCurrent || amps > c.maxAmps {
		return fmt.Errorf("phoenix: current %.2f A is outside %g..%g A", amps, minCurrent, c.maxAmps)
	}
	c.mu.Lock()
	detected := c.detected
	c.mu.Unlock()
	if !detected {
		if err := c.readSetpoint(ctx); err != nil {
			return fmt.Errorf("phoenix: set current: learn the firmware variant: %w", err)
		}
	}
	c.mu.Lock()
	c.knownAmps, c.amps = true, amps
	c.mu.Unlock()
	if err := c.writeCurrent(ctx); err != nil {
		return fmt.Errorf("phoenix: set current: %w", err)
	}
	return nil
}

func (c *Charger) writeCurrent(ctx context.Context) error {
	c.wmu.Lock() // the last write always carries the latest wanted state
	defer c.wmu.Unlock()
	c.mu.Lock()
	raw, v := c.raw(c.amps)
	c.mu.Unlock()
	if err := c.cl.WriteSingle(ctx, regMaxCurrent, raw); err != nil {
		return err
	}
	c.mu.Lock()
	c.setpoint, c.setpointOK = v, true
	c.mu.Unlock()
	return nil
}

// raw is the register value for amps and the current it stands for; the
// caller holds c.mu.
func (c *Charger) raw(amps float64) (uint16, float64) {
	if c.wallbe {
		r := math.Floor(amps*10 + 1e-6)
		return uint16(r), r / 10
	}
	r := math.Floor(amps + 1e-9)
	return uint16(r), r
}

// SetEnabled switches the enable coil (400).
func (c *Charger) SetEnabled(ctx context.Context, enabled bool) error {
	c.mu.Lock()
	c.knownEn, c.enabled = true, enabled
	c.mu.Unlock()
	if err := c.writeEnabled(ctx); err != nil {
		return fmt.Errorf("phoenix: set enabled: %w", err)
	}
	return nil
}

func (c *Charger) writeEnabled(ctx context.Context) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	on := c.enabled
	c.mu.Unlock()
	if err := c.coils.WriteCoil(ctx, coilEnable, on); err != nil {
		return err
	}
	c.mu.Lock()
	c.enabledOn, c.enabledOK = on, true
	c.mu.Unlock()
	return nil
}

// RefreshInterval is the reapply option; 0 turns refreshing off.
func (c *Charger) RefreshInterval() time.Duration {
	return time.Duration(c.opts.Reapply) * time.Second
}

// Refresh writes the current and the enable coil again where the last
// readings differ from what the driver set (a controller restart brings
// back its defaults), or are unknown. It writes nothing before the driver
// knows what to keep.
func (c *Charger) Refresh(ctx context.Context) error {
	c.mu.Lock()
	var want uint16
	if c.knownAmps {
		want, _ = c.raw(c.amps)
	}
	have, _ := c.raw(c.setpoint)
	setCur := c.knownAmps && (!c.setpointOK || have != want)
	setEn := c.knownEn && (!c.enabledOK || c.enabledOn != c.enabled)
	amps := c.amps
	c.mu.Unlock()
	var errs []error
	if setCur {
		c.log.Info("the controller lost the current, writing it again", "amps", amps)
		errs = append(errs, c.writeCurrent(ctx))
	}
	if setEn {
		errs = append(errs, c.writeEnabled(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("phoenix: refresh: %w", err)
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
