package solar

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Code names the rule behind a decision; stable for automations.
type Code string

// Reason codes.
const (
	CodeOff         Code = "off"          // mode off
	CodeNoVehicle   Code = "no_vehicle"   // nothing plugged in
	CodeOffline     Code = "offline"      // no state from the charger: last command held
	CodeSettings    Code = "settings"     // contradictory settings: held at 0 A
	CodeNow         Code = "now"          // mode now at the maximum
	CodeCharging    Code = "charging"     // following the surplus
	CodeMinimum     Code = "minimum"      // held at the minimum (minpv, or grid phase of plan)
	CodeWaiting     Code = "waiting"      // not enough surplus to start
	CodeStartDelay  Code = "start_delay"  // start condition holds, timer running
	CodeMinOff      Code = "min_off"      // would start, contactor rest time not over
	CodeStopDelay   Code = "stop_delay"   // stop condition holds, timer running
	CodeMinOn       Code = "min_on"       // would stop, minimum on time not over
	CodeStopped     Code = "stopped"      // just stopped for lack of surplus
	CodePhaseDelay  Code = "phase_delay"  // a phase switch is pending
	CodePhaseSwitch Code = "phase_switch" // switched phases this tick
	CodePlan        Code = "plan"         // plan's grid phase
	CodeMeterHold   Code = "meter_hold"   // one bad meter reading: last command held
	CodeMeterLost   Code = "meter_lost"   // meter lost: safe current
	CodeSiteLimit   Code = "site_limit"   // capped or stopped by the main fuse
)

// Reason explains one decision. Its fields hold the numbers the rule
// looked at, so Decide formats nothing; String renders it for people,
// e.g. "pv: surplus 2.3 kW → 10 A" or "site limit: L2 at 35 A → 8.7 A".
type Reason struct {
	Mode Mode
	Code Code
	// Power is the surplus (or share of it) the rule saw, W; Need is what
	// it needed, W.
	Power float64
	Need  float64
	// Amps is the resulting current, A; Phases the resulting phases.
	Amps   float64
	Phases int
	// Line (1–3) and Limit (A) name the binding line of the site limit.
	Line  int
	Limit float64
	// Wait is the time left on the timer that holds the decision.
	Wait time.Duration
	// Energy, kWh, and At describe a plan.
	Energy float64
	At     time.Time
	// Battery is set when the home battery had priority (SoC below the
	// configured SoC); SoC is its state of charge, %.
	Battery bool
	SoC     float64
	// Detail is a fixed text (a settings problem, why the meter is bad).
	Detail string
}

// String renders the reason for people.
func (r Reason) String() string {
	var s string
	switch r.Code {
	case CodeOff:
		return "off"
	case CodeNoVehicle:
		return "no vehicle"
	case CodeOffline:
		return "charger offline: holding " + amps(r.Amps)
	case CodeSettings:
		return "settings: " + r.Detail
	case CodeMeterHold:
		return "meter: " + r.Detail + ", holding last command"
	case CodeMeterLost:
		if r.Amps > 0 {
			return "meter lost (" + r.Detail + "): safe " + amps(r.Amps)
		}
		return "meter lost (" + r.Detail + "): paused"
	case CodeSiteLimit:
		s = fmt.Sprintf("site limit: L%d at %s", r.Line, amps(r.Limit))
		if r.Amps > 0 {
			return s + " → " + amps(r.Amps)
		}
		return s + " → stopped"
	case CodeNow:
		s = amps(r.Amps) + phases(r.Phases)
	case CodeCharging:
		s = "surplus " + kw(r.Power) + " → " + amps(r.Amps) + phases(r.Phases)
	case CodeMinimum:
		s = "surplus " + kw(r.Power) + ", minimum " + amps(r.Amps)
	case CodeWaiting:
		s = "surplus " + kw(r.Power) + ", needs " + kw(r.Need)
	case CodeStartDelay:
		s = "start in " + secs(r.Wait) + " (surplus " + kw(r.Power) + ")"
	case CodeMinOff:
		s = "contactor rest, start in " + secs(r.Wait)
	case CodeStopDelay:
		s = "stop in " + secs(r.Wait) + " (surplus " + kw(r.Power) + " < " + kw(r.Need) + ")"
	case CodeMinOn:
		s = "minimum on time, " + secs(r.Wait) + " left (surplus " + kw(r.Power) + ")"
	case CodeStopped:
		s = "stopped, surplus " + kw(r.Power) + " < " + kw(r.Need)
	case CodePhaseDelay:
		s = fmt.Sprintf("%d-phase in %s (surplus %s) → %s", r.Phases, secs(r.Wait), kw(r.Power), amps(r.Amps))
	case CodePhaseSwitch:
		s = fmt.Sprintf("switched to %d-phase (surplus %s) → %s", r.Phases, kw(r.Power), amps(r.Amps))
	case CodePlan:
		s = fmt.Sprintf("%.1f kWh left by %s → %s", r.Energy, r.At.Format("15:04"), amps(r.Amps)+phases(r.Phases))
	default:
		s = string(r.Code)
	}
	if r.Battery {
		s += fmt.Sprintf(", battery first (SoC %.0f%%)", r.SoC)
	}
	if r.Detail != "" {
		s += ", " + r.Detail
	}
	if r.Mode == ModePlan && r.Code != CodePlan && !r.At.IsZero() {
		s += ", grid from " + r.At.Format("15:04") + " if needed"
	}
	return string(r.Mode) + ": " + s
}

func amps(a float64) string {
	return strconv.FormatFloat(math.Round(a*10)/10, 'f', -1, 64) + " A"
}

func kw(w float64) string {
	v := math.Round(w/100) / 10
	if v == 0 {
		v = 0 // no "-0.0 kW"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " kW"
}

func phases(n int) string {
	if n == 1 {
		return " 1p"
	}
	if n == 3 {
		return " 3p"
	}
	return ""
}

func secs(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.Itoa(int(math.Ceil(d.Seconds()))) + " s"
}
