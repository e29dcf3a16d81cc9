package shelly

import (
	"errors"
	"fmt"
	"math"

	"github.com/evbridge/evbridge/bridge/meter"
)

// Bounds beyond which a value is taken for garbage, not a measurement.
const (
	maxPower   = 1e6  // W: ±1 MW and beyond, far above any site evbridge serves
	maxCurrent = 5000 // A per phase
	maxVoltage = 1000 // V line to neutral
	maxEnergy  = 1e9  // kWh lifetime counter
)

// checkReading names every value of r that is not finite or not
// plausible.
func checkReading(r meter.Reading) error {
	var errs []error
	if r.Power != nil {
		if p := *r.Power; math.Abs(p) >= maxPower {
			errs = append(errs, fmt.Errorf("power %g W is implausible (±1 MW or more)", p))
		} else {
			errs = append(errs, within("power", "W", p, -maxPower, maxPower))
		}
	}
	opt := func(name, unit string, v *float64, lo, hi float64) {
		if v != nil {
			errs = append(errs, within(name, unit, *v, lo, hi))
		}
	}
	opt("energy import", "kWh", r.EnergyImport, 0, maxEnergy)
	opt("energy export", "kWh", r.EnergyExport, 0, maxEnergy)
	opt("soc", "%", r.SoC, 0, 100)
	for i, a := range r.Currents {
		errs = append(errs, within(fmt.Sprintf("current L%d", i+1), "A", a, -maxCurrent, maxCurrent))
	}
	for i, v := range r.Voltages {
		errs = append(errs, within(fmt.Sprintf("voltage L%d", i+1), "V", v, 0, maxVoltage))
	}
	return errors.Join(errs...)
}

// within checks lo <= v <= hi and that v is a number.
func within(name, unit string, v, lo, hi float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%s is %v, not a number", name, v)
	case v < lo || v > hi:
		return fmt.Errorf("%s %g %s is implausible (outside %g..%g %s)", name, v, unit, lo, hi, unit)
	}
	return nil
}
