// Package solar is evbridge's solar-surplus and site-load controller: one
// pure decision function, Decide, called for all chargers at every tick
// (default 2 s). It takes the meter readings, the charger states, the
// settings and the time, plus the Memory the previous call returned, and
// gives back a Decision per charger and the new Memory. Nothing in the
// package reads a clock, does I/O or keeps global state, so a recorded
// trace replays to the same decisions (see Replay) and tests drive it with
// plain time values.
//
// The rules, in the order Decide applies them:
//  1. Meter: a grid reading that is missing, NaN, absurd (beyond ±1 MW),
//     stale or from the future is bad. One bad tick holds the previous
//     decision (a single glitch must not cycle a contactor); the second
//     consecutive bad tick sends every charger to Site.SafeCurrent. Control
//     resumes on the first good reading.
//  2. Modes: off, now (maximum allowed), minpv (minimum always, more from
//     surplus), pv (surplus only, with thresholds and delays), plan (see
//     plan.go).
//  3. Sharing surplus among chargers in pv/minpv/plan (see share.go).
//  4. Site limit: the main fuse caps all chargers together, counting the
//     house load the grid meter sees (see limits.go). It overrides
//     everything but the meter-loss fallback, which it also caps.
//  5. Contactor protection: a start never comes sooner than MinOffTime
//     after a stop; the controller never stops a charger sooner than
//     MinOnTime after a start, except when the user (mode off), the fuse or
//     a lost meter demands it, because those outrank contactor wear.
package solar

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Mode is what the user asks of one charger.
type Mode string

// Charging modes.
const (
	// ModeOff never charges.
	ModeOff Mode = "off"
	// ModeNow charges at the maximum the charger and the site limit allow.
	ModeNow Mode = "now"
	// ModeMinPV charges at least at the minimum current, more from surplus.
	ModeMinPV Mode = "minpv"
	// ModePV charges from surplus only, with start/stop thresholds and delays.
	ModePV Mode = "pv"
	// ModePlan reaches Charger.PlanEnergy by Charger.Departure: surplus
	// first, the grid only for what the sun has not delivered, as late as
	// possible.
	ModePlan Mode = "plan"
)

// Modes lists every mode, for select entities and validation.
var Modes = []Mode{ModeOff, ModeNow, ModeMinPV, ModePV, ModePlan}

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool {
	for _, k := range Modes {
		if m == k {
			return true
		}
	}
	return false
}

// Site holds the settings shared by all chargers of one grid connection.
// Zero durations and voltages take the defaults of DefaultSite, so a
// partly filled Site still behaves.
type Site struct {
	// Voltage is the nominal phase-to-neutral voltage, V (default 230).
	Voltage float64 `json:"voltage" yaml:"voltage"`
	// Tick is how often Decide is called (default 2 s). Used only to judge
	// meter age relative to the control rate.
	Tick time.Duration `json:"tick" yaml:"tick"`
	// MeterMaxAge is the age beyond which a grid reading counts as stale
	// (default 10 s, five ticks: a meter polled every 2–5 s may skip one
	// poll without tripping the fallback).
	MeterMaxAge time.Duration `json:"meter_max_age" yaml:"meter_max_age"`
	// PhaseLimit is the main fuse, A per phase; 0 means no site limit.
	PhaseLimit float64 `json:"phase_limit" yaml:"phase_limit"`
	// SafeCurrent is the current every active charger falls back to when
	// the grid meter is lost, A per phase; 0 stops them. A charger whose
	// minimum is above it stops.
	SafeCurrent float64 `json:"safe_current" yaml:"safe_current"`
	// ResidualPower is power, W, kept back from the surplus: a positive
	// value keeps a little export as a margin against meter noise.
	ResidualPower float64 `json:"residual_power" yaml:"residual_power"`
	// BatteryPrioritySoC, %, gives the home battery priority below this
	// state of charge: its charging power is not surplus for the cars.
	// 0 turns the rule off. Above it the battery's charging power counts as
	// surplus. A discharging battery never feeds cars in pv mode.
	BatteryPrioritySoC float64 `json:"battery_priority_soc" yaml:"battery_priority_soc"`
	// PlanMargin is how much earlier than the departure a plan aims to be
	// done, as a cushion for a car that draws less than offered (default
	// 30 min).
	PlanMargin time.Duration `json:"plan_margin" yaml:"plan_margin"`
	// Chargers are the controlled charge points.
	Chargers []Charger `json:"chargers" yaml:"chargers"`
}

// Charger holds one charge point's settings. DefaultCharger fills them.
type Charger struct {
	// ID is the charger's stable id; ChargerState.ID must match it.
	ID string `json:"id" yaml:"id"`
	// Mode is the charging mode.
	Mode Mode `json:"mode" yaml:"mode"`
	// MinCurrent and MaxCurrent bound the offered current, A per phase.
	// The device's own range (ChargerState) narrows them further.
	MinCurrent float64 `json:"min_current" yaml:"min_current"`
	MaxCurrent float64 `json:"max_current" yaml:"max_current"`
	// Phases is how many phases the charger is wired with (1 or 3).
	Phases int `json:"phases" yaml:"phases"`
	// Line is the grid line (1–3) a one-phase charge draws from, for the
	// site limit (default 1).
	Line int `json:"line" yaml:"line"`
	// Step is the setpoint resolution, A; setpoints are rounded down to it
	// so rounding never adds import or exceeds a limit. 0 is continuous.
	Step float64 `json:"step" yaml:"step"`
	// Priority orders chargers when surplus or the site limit is short;
	// higher goes first, equal priorities share equally.
	Priority int `json:"priority" yaml:"priority"`

	// StartThreshold, W, is the surplus beyond the minimum charging power
	// required before a pv start (and before a switch up to 3 phases).
	StartThreshold float64 `json:"start_threshold" yaml:"start_threshold"`
	// StartDelay is how long the start condition must hold.
	StartDelay time.Duration `json:"start_delay" yaml:"start_delay"`
	// StopThreshold, W, is the shortfall below the minimum charging power
	// tolerated (drawn from the grid) before the stop timer runs.
	StopThreshold float64 `json:"stop_threshold" yaml:"stop_threshold"`
	// StopDelay is how long the stop condition must hold.
	StopDelay time.Duration `json:"stop_delay" yaml:"stop_delay"`
	// MinOnTime and MinOffTime protect the contactor: no start sooner than
	// MinOffTime after a stop, no surplus stop sooner than MinOnTime after
	// a start.
	MinOnTime  time.Duration `json:"min_on_time" yaml:"min_on_time"`
	MinOffTime time.Duration `json:"min_off_time" yaml:"min_off_time"`
	// PhaseUpDelay and PhaseDownDelay are how long the surplus must call
	// for 3 or 1 phases before a switch while charging; PhaseSwitchGap is
	// the least time between two switches.
	PhaseUpDelay   time.Duration `json:"phase_up_delay" yaml:"phase_up_delay"`
	PhaseDownDelay time.Duration `json:"phase_down_delay" yaml:"phase_down_delay"`
	PhaseSwitchGap time.Duration `json:"phase_switch_gap" yaml:"phase_switch_gap"`

	// PlanEnergy is the session energy, kWh, plan mode must reach by
	// Departure.
	PlanEnergy float64   `json:"plan_energy" yaml:"plan_energy"`
	Departure  time.Time `json:"departure" yaml:"departure"`
}

// DefaultSite returns the defaults: 230 V, 2 s ticks, 10 s meter age, safe
// current 6 A, no site limit, no battery priority, 30 min plan margin.
func DefaultSite() Site {
	return Site{
		Voltage:     230,
		Tick:        2 * time.Second,
		MeterMaxAge: 10 * time.Second,
		SafeCurrent: 6,
		PlanMargin:  30 * time.Minute,
	}
}

// DefaultCharger returns a three-phase 6–16 A charger in pv mode with the
// default timing, tuned on the measured 2024 year (replay_test.go):
//   - StopThreshold 300 W: holding the minimum while the surplus is up to
//     300 W short keeps the PV that is there in the car (1.1 kW of 1.4 kW)
//     for a little import; on the year this raised the car's PV energy by
//     2 % of the oracle bound, kept grid import under 1 % of the car's
//     energy and cut starts from 3.0 to 2.3 a day;
//   - a 2 s tick allows start/stop delays shorter than evcc's 1 min/3 min,
//     because the minimum on/off times, not the delays, bound the cycle rate;
//   - StartThreshold 0 W: a threshold of 300 W saved 0.3 starts a day but
//     lost 2 % of the PV energy.
func DefaultCharger(id string) Charger {
	return Charger{
		ID:             id,
		Mode:           ModePV,
		MinCurrent:     6,
		MaxCurrent:     16,
		Phases:         3,
		Line:           1,
		Step:           0.1,
		StartThreshold: 0,
		StartDelay:     30 * time.Second,
		StopThreshold:  300,
		StopDelay:      90 * time.Second,
		MinOnTime:      3 * time.Minute,
		MinOffTime:     2 * time.Minute,
		PhaseUpDelay:   60 * time.Second,
		PhaseDownDelay: 30 * time.Second,
		PhaseSwitchGap: 5 * time.Minute,
	}
}

// withDefaults fills zero fields that would otherwise make Decide divide by
// zero or never judge a meter stale.
func (s Site) withDefaults() Site {
	d := DefaultSite()
	if !(s.Voltage > 0) {
		s.Voltage = d.Voltage
	}
	if s.Tick <= 0 {
		s.Tick = d.Tick
	}
	if s.MeterMaxAge <= 0 {
		s.MeterMaxAge = d.MeterMaxAge
	}
	if s.PlanMargin < 0 {
		s.PlanMargin = 0
	}
	return s
}

// Validate lists every problem with the settings, joined into one error;
// nil means Decide will apply them as written. Decide never exceeds a
// limit even on settings that fail here: a charger with contradictory
// settings is held at 0 A, and a site limit below a charger's minimum keeps
// that charger off.
func (s Site) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Voltage < 0 || math.IsNaN(s.Voltage) || s.Voltage > 400 {
		add("voltage %g V is not a phase voltage", s.Voltage)
	}
	if s.Tick < 0 || s.MeterMaxAge < 0 || s.PlanMargin < 0 {
		add("tick, meter_max_age and plan_margin must not be negative")
	}
	if s.MeterMaxAge > 0 && s.MeterMaxAge < s.withDefaults().Tick {
		add("meter_max_age %v is shorter than one tick (%v): every reading would be stale", s.MeterMaxAge, s.withDefaults().Tick)
	}
	if !finiteNonNeg(s.PhaseLimit) {
		add("phase_limit %g A must be 0 (none) or positive", s.PhaseLimit)
	}
	if !finiteNonNeg(s.SafeCurrent) {
		add("safe_current %g A must not be negative", s.SafeCurrent)
	}
	if math.IsNaN(s.ResidualPower) || math.IsInf(s.ResidualPower, 0) {
		add("residual_power must be a number")
	}
	if !(s.BatteryPrioritySoC >= 0 && s.BatteryPrioritySoC <= 100) {
		add("battery_priority_soc %g %% is outside 0–100", s.BatteryPrioritySoC)
	}
	seen := map[string]bool{}
	for i, c := range s.Chargers {
		name := c.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
			add("charger %s: id is empty", name)
		} else if seen[c.ID] {
			add("charger %s: id used twice", name)
		}
		seen[c.ID] = true
		for _, p := range c.problems() {
			add("charger %s: %s", name, p)
		}
		if s.PhaseLimit > 0 && c.MinCurrent > s.PhaseLimit {
			add("charger %s: site limit %g A is below its minimum current %g A, it could never charge", name, s.PhaseLimit, c.MinCurrent)
		}
	}
	if s.PhaseLimit > 0 && s.SafeCurrent > 0 {
		var load [3]float64
		for _, c := range s.Chargers {
			for l, on := range c.lines(c.Phases) {
				if on {
					load[l] += s.SafeCurrent
				}
			}
		}
		for l, a := range load {
			if a > s.PhaseLimit {
				add("safe_current %g A on every charger puts %g A on L%d, above the site limit %g A (the fuse still caps it)", s.SafeCurrent, a, l+1, s.PhaseLimit)
				break
			}
		}
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with one charger's own settings; Decide uses
// the first to explain why it holds the charger at 0 A.
func (c Charger) problems() []string {
	var p []string
	if !c.Mode.Valid() {
		p = append(p, fmt.Sprintf("mode %q is not one of off, now, minpv, pv, plan", c.Mode))
	}
	if !(c.MinCurrent > 0) || math.IsInf(c.MinCurrent, 0) {
		p = append(p, fmt.Sprintf("min_current %g A must be positive", c.MinCurrent))
	}
	if !(c.MaxCurrent >= c.MinCurrent) || math.IsInf(c.MaxCurrent, 0) {
		p = append(p, fmt.Sprintf("min_current %g A is above max_current %g A", c.MinCurrent, c.MaxCurrent))
	}
	if c.Phases != 1 && c.Phases != 3 {
		p = append(p, fmt.Sprintf("phases %d must be 1 or 3", c.Phases))
	}
	if c.Line < 0 || c.Line > 3 {
		p = append(p, fmt.Sprintf("line %d must be 1, 2 or 3", c.Line))
	}
	if !finiteNonNeg(c.Step) {
		p = append(p, fmt.Sprintf("step %g A must not be negative", c.Step))
	}
	if !finiteNonNeg(c.StartThreshold) || !finiteNonNeg(c.StopThreshold) {
		p = append(p, "start_threshold and stop_threshold must not be negative")
	}
	if c.StartDelay < 0 || c.StopDelay < 0 || c.MinOnTime < 0 || c.MinOffTime < 0 ||
		c.PhaseUpDelay < 0 || c.PhaseDownDelay < 0 || c.PhaseSwitchGap < 0 {
		p = append(p, "delays and minimum on/off times must not be negative")
	}
	if c.Mode == ModePlan {
		if !(c.PlanEnergy > 0) || math.IsInf(c.PlanEnergy, 0) {
			p = append(p, fmt.Sprintf("plan mode needs a positive plan_energy, not %g kWh", c.PlanEnergy))
		}
		if c.Departure.IsZero() {
			p = append(p, "plan mode needs a departure time")
		}
	}
	return p
}

// lines reports which grid lines the charger loads with n phases active.
func (c Charger) lines(n int) [3]bool {
	if n >= 3 {
		return [3]bool{true, true, true}
	}
	var l [3]bool
	l[oneLine(&c)] = true
	return l
}

// oneLine is the 0-based grid line of a one-phase charge.
func oneLine(c *Charger) int {
	if c.Line < 1 || c.Line > 3 {
		return 0
	}
	return c.Line - 1
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }
