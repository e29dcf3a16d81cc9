// Package setpoint keeps the offered current of chargers that have no
// enable switch of their own: disabling writes 0 A, enabling writes the
// last current back, and a current set while disabled waits for the next
// enable. Several Modbus drivers (Vestel, Webasto Next, ABL, Mennekes)
// share these rules; only the register write differs.
package setpoint

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// Setpoint is safe for concurrent use. Fill the exported fields before
// the first call.
type Setpoint struct {
	// Driver names the driver in errors.
	Driver string
	// Min and Max are the accepted current range, A.
	Min, Max float64
	// Round adjusts a requested current to what the device takes (nil:
	// as given), e.g. math.Floor for whole amperes.
	Round func(float64) float64
	// Write sends amps to the device; 0 stops charging.
	Write func(ctx context.Context, amps float64) error

	mu      sync.Mutex
	wmu     sync.Mutex // the last write always carries the latest state
	amps    float64
	enabled bool
	known   bool
}

// SetCurrent sets the current offered while enabled. A current set before
// anything is known means "charge at it".
func (s *Setpoint) SetCurrent(ctx context.Context, amps float64) error {
	if math.IsNaN(amps) || amps < s.Min || amps > s.Max {
		return fmt.Errorf("%s: current %.2f A is outside %g..%g A", s.Driver, amps, s.Min, s.Max)
	}
	if s.Round != nil {
		amps = s.Round(amps)
	}
	return s.command(ctx, "set current", func() {
		if !s.known {
			s.enabled = true
		}
		s.amps = amps
	})
}

// SetEnabled allows or stops charging. Enabling with no current known
// offers the minimum.
func (s *Setpoint) SetEnabled(ctx context.Context, enabled bool) error {
	return s.command(ctx, "set enabled", func() {
		s.enabled = enabled
		if enabled && s.amps == 0 {
			s.amps = s.Min
		}
	})
}

func (s *Setpoint) command(ctx context.Context, what string, change func()) error {
	s.mu.Lock()
	change()
	s.known = true
	s.mu.Unlock()
	if err := s.write(ctx); err != nil {
		return fmt.Errorf("%s: %s: %w", s.Driver, what, err)
	}
	return nil
}

// Rewrite writes the kept state again, for a watchdog refresh; it writes
// nothing and reports false while nothing is known.
func (s *Setpoint) Rewrite(ctx context.Context) (bool, error) {
	if _, _, known := s.State(); !known {
		return false, nil
	}
	return true, s.write(ctx)
}

func (s *Setpoint) write(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	amps, _ := s.Wanted()
	return s.Write(ctx, amps)
}

// Wanted is what the device should hold now: the current, or 0 while
// disabled; known is false before the first command or adoption.
func (s *Setpoint) Wanted() (amps float64, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled {
		return 0, s.known
	}
	return s.amps, s.known
}

// State returns the kept current, whether charging is enabled, and
// whether anything is known yet.
func (s *Setpoint) State() (amps float64, enabled, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.amps, s.enabled, s.known
}

// Adopt takes over the current a device holds, once, before any command:
// a restart of evbridge never changes what the charger does. It reports
// whether it adopted.
func (s *Setpoint) Adopt(amps float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known {
		return false
	}
	s.known, s.enabled = true, amps >= s.Min
	if s.enabled {
		s.amps = amps
	}
	return true
}
