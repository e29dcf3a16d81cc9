package ocpp

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// sample is one sampled value, the same for OCPP 1.6 and 2.0.1 (whose
// unit carries a power-of-ten multiplier).
type sample struct {
	value      string  // 1.6 sends a decimal string
	number     float64 // 2.0.1 sends a number
	isNumber   bool
	measurand  string
	phase      string
	unit       string
	multiplier int
	location   string
	format     string
}

// meterState is a connector's latest reading. Each field keeps the time it
// was last reported, so a measurand a charge point stopped sending is not
// shown forever.
type meterState struct {
	at       time.Time
	power    *float64 // W
	energyWh *float64 // import register, never decreasing
	currents [3]*float64
	voltages [3]*float64
	offered  *float64 // A
	soc      *float64 // %
	temp     *float64 // °C
}

// applySamples folds one meter value (all samples with one timestamp) into
// m. It reports how many samples it used; the rest are measurands evbridge
// does not model, signed data, or values that are not numbers.
func (m *meterState) applySamples(samples []sample, now time.Time) (used int) {
	var phasePower float64
	var phasePowerN int
	var totalPower, unphasedCurrent *float64
	for _, sv := range samples {
		v, ok := sv.number, !math.IsNaN(sv.number) && !math.IsInf(sv.number, 0)
		if !sv.isNumber {
			v, ok = parseNumber(sv.value)
		}
		if !ok || strings.EqualFold(sv.format, "SignedData") {
			continue
		}
		if v *= math.Pow10(sv.multiplier); math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		measurand := sv.measurand
		if measurand == "" {
			measurand = "Energy.Active.Import.Register" // the specified default
		}
		if sv.location == "EV" && measurand != "SoC" {
			continue
		}
		idx := phaseIndex(sv.phase)
		switch measurand {
		case "Energy.Active.Import.Register":
			wh, ok := toBase(v, sv.unit, "Wh", map[string]float64{"wh": 1, "kwh": 1000})
			if !ok || wh < 0 || sv.phase != "" {
				continue
			}
			if m.energyWh == nil || wh >= *m.energyWh {
				m.energyWh = ptr(wh)
			}
		case "Power.Active.Import":
			w, ok := toBase(v, sv.unit, "W", map[string]float64{"w": 1, "kw": 1000})
			if !ok {
				continue
			}
			if sv.phase == "" {
				totalPower = ptr(w)
			} else if idx >= 0 {
				phasePower += w
				phasePowerN++
			}
		case "Current.Import":
			a, ok := toBase(v, sv.unit, "A", map[string]float64{"a": 1})
			if !ok {
				continue
			}
			switch {
			case idx >= 0:
				m.currents[idx] = ptr(a)
			case sv.phase == "":
				unphasedCurrent = ptr(a)
			}
		case "Voltage":
			volts, ok := toBase(v, sv.unit, "V", map[string]float64{"v": 1})
			switch {
			case !ok || volts < 0:
				continue
			case idx >= 0:
				m.voltages[idx] = ptr(volts)
			case sv.phase == "":
				m.voltages[0] = ptr(volts)
			default:
				continue // line-to-line or N
			}
		case "Current.Offered":
			a, ok := toBase(v, sv.unit, "A", map[string]float64{"a": 1})
			if !ok || sv.phase != "" && idx != 0 {
				continue
			}
			m.offered = ptr(a)
		case "SoC":
			if v < 0 || v > 100 {
				continue
			}
			m.soc = ptr(v)
		case "Temperature":
			c, ok := celsius(v, sv.unit)
			if !ok {
				continue
			}
			m.temp = ptr(c)
		default:
			continue
		}
		used++
	}
	switch {
	case totalPower != nil:
		m.power = totalPower
	case phasePowerN > 0:
		m.power = ptr(phasePower)
	}
	// A current without phase is taken as L1 when no phase was named:
	// single-phase charge points report it so.
	if unphasedCurrent != nil && m.currents[0] == nil && m.currents[1] == nil && m.currents[2] == nil {
		m.currents[0] = unphasedCurrent
	}
	if used > 0 {
		m.at = now
	}
	return used
}

// parseNumber accepts a finite decimal number.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// toBase converts v in unit (empty: the measurand's default, base) with
// the factors given by lower-case unit name.
func toBase(v float64, unit, base string, factors map[string]float64) (float64, bool) {
	if unit == "" {
		unit = base
	}
	f, ok := factors[strings.ToLower(unit)]
	if !ok {
		return 0, false
	}
	out := v * f
	if math.IsNaN(out) || math.IsInf(out, 0) {
		return 0, false
	}
	return out, true
}

func celsius(v float64, unit string) (float64, bool) {
	switch strings.ToLower(unit) {
	case "", "celsius", "deg_c":
		return v, true
	case "fahrenheit", "deg_f":
		return (v - 32) * 5 / 9, true
	case "k":
		return v - 273.15, true
	}
	return 0, false
}

// phaseIndex maps L1, L1-N … to 0..2; line-to-line and N to -1.
func phaseIndex(p string) int {
	switch p {
	case "L1", "L1-N":
		return 0
	case "L2", "L2-N":
		return 1
	case "L3", "L3-N":
		return 2
	}
	return -1
}

func ptr[T any](v T) *T { return &v }
