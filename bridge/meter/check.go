package meter

import (
	"errors"
	"fmt"
	"math"
)

// Bounds beyond which a value is taken for garbage, not a measurement.
// They are deliberately wide: they catch a decoder reading the wrong
// register or a unit slip by 10⁶, never a real site's extreme.
const (
	MaxPower   = 1e6  // W: ±1 MW and beyond, far above any site evbridge serves
	MaxCurrent = 5000 // A per phase
	MaxVoltage = 1000 // V line to neutral
	MaxEnergy  = 1e9  // kWh lifetime counter
)

// Sentinels a CheckReading error wraps, so a caller can tell a value that
// is no number at all (NaN, ±Inf: a decoding slip) from one that is a
// number but out of bounds (a scale or register slip) with errors.Is.
var (
	ErrNotANumber  = errors.New("meter: value is not a number")
	ErrImplausible = errors.New("meter: value is implausible")
)

// CheckReading names every value of r that is not finite or not
// plausible, joined into one error; nil when all are fine. Every meter
// driver calls it on what it decoded, so the core sees the same bounds
// whatever the device.
func CheckReading(r Reading) error {
	var errs []error
	if r.Power != nil {
		if p := *r.Power; math.Abs(p) >= MaxPower {
			errs = append(errs, &valueError{ErrImplausible, fmt.Sprintf("power %g W is implausible (±1 MW or more)", p)})
		} else {
			errs = append(errs, within("power", "W", p, -MaxPower, MaxPower))
		}
	}
	opt := func(name, unit string, v *float64, lo, hi float64) {
		if v != nil {
			errs = append(errs, within(name, unit, *v, lo, hi))
		}
	}
	opt("energy import", "kWh", r.EnergyImport, 0, MaxEnergy)
	opt("energy export", "kWh", r.EnergyExport, 0, MaxEnergy)
	opt("soc", "%", r.SoC, 0, 100)
	for i, a := range r.Currents {
		errs = append(errs, within(fmt.Sprintf("current L%d", i+1), "A", a, -MaxCurrent, MaxCurrent))
	}
	for i, v := range r.Voltages {
		errs = append(errs, within(fmt.Sprintf("voltage L%d", i+1), "V", v, 0, MaxVoltage))
	}
	return errors.Join(errs...)
}

// within checks lo <= v <= hi and that v is a number.
func within(name, unit string, v, lo, hi float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return &valueError{ErrNotANumber, fmt.Sprintf("%s is %v, not a number", name, v)}
	case v < lo || v > hi:
		return &valueError{ErrImplausible, fmt.Sprintf("%s %g %s is implausible (outside %g..%g %s)", name, v, unit, lo, hi, unit)}
	}
	return nil
}

// valueError keeps the message the drivers always logged (a wrapped
// sentinel in %w would prefix it) while still matching its sentinel.
type valueError struct {
	kind error
	msg  string
}

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return e.kind }
