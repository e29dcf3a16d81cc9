package solar

import (
	"math"
	"time"
)

// EvccLike is a baseline for Replay: the solar-surplus algorithm evcc
// documents (shared/notes/competitors.md §2, as of evcc b29b49e), rebuilt
// from that description, not from evcc's code, so evbridge's figures can be
// compared on the same trace:
//   - one decision per Interval (default 30 s), the command held between;
//   - target = min(measured phase current + 2 A, offered) + (−grid power)
//     / (phases × V), from the grid meter alone;
//   - pv: idle until the target reaches the minimum for EnableDelay (1 min),
//     then start at the minimum; below the minimum while importing, hold
//     the minimum for DisableDelay (3 min), then stop; minpv never stops;
//   - 3→1 phases when importing and the available power is below the
//     3-phase minimum, after DisableDelay (at once when not charging);
//     1→3 when the 1-phase target exceeds the maximum and 3 phases fit,
//     after EnableDelay; no switch within 60 s of the last one;
//   - currents truncated to whole amps when the charger's Step is ≥ 1;
//   - no site limit, and a lost meter skips the update (the charger keeps
//     its last command).
//
// It is stateful, unlike Decide; one instance per replay.
type EvccLike struct {
	Site         Site
	Interval     time.Duration
	EnableDelay  time.Duration
	DisableDelay time.Duration

	last time.Time
	dec  Decision
	st   []evccState
}

type evccState struct {
	enabled          bool
	offered          float64
	phases           int
	enableT, disable time.Time
	phaseT           time.Time
	lastSwitch       time.Time
}

// NewEvccLike returns the baseline with evcc's default numbers.
func NewEvccLike(site Site) *EvccLike {
	return &EvccLike{Site: site.withDefaults(), Interval: 30 * time.Second,
		EnableDelay: time.Minute, DisableDelay: 3 * time.Minute}
}

// Step implements Policy.
func (e *EvccLike) Step(in Inputs, now time.Time) Decision {
	s := &e.Site
	if len(e.st) != len(s.Chargers) {
		e.st = make([]evccState, len(s.Chargers))
		e.dec.Chargers = make([]ChargerDecision, len(s.Chargers))
		for i, c := range s.Chargers {
			e.st[i].phases = c.Phases
		}
	}
	if !e.last.IsZero() && now.Sub(e.last) < e.Interval {
		return e.dec
	}
	e.last = now
	if gridProblem(in.Grid, now, s) != "" {
		return e.dec // evcc skips the update and keeps the last command
	}
	site := in.Grid.Power
	if b := in.BatteryPower; b.Valid {
		prio := s.BatteryPrioritySoC > 0 && in.BatterySoC.Valid && in.BatterySoC.Value < s.BatteryPrioritySoC
		if !(prio && b.Value < 0) {
			site += b.Value
		}
	}
	site += s.ResidualPower
	d := Decision{Chargers: make([]ChargerDecision, len(s.Chargers)), Grid: in.Grid.Power, MeterOK: true}
	for i := range s.Chargers {
		c := &s.Chargers[i]
		st, ok := findState(in.Chargers, i, c.ID)
		e.update(&e.st[i], c, st, ok, site, now)
		x := e.st[i]
		cur := 0.0
		if x.enabled {
			cur = x.offered
		}
		d.Chargers[i] = ChargerDecision{ID: c.ID, Current: cur, Enabled: cur > 0, Phases: x.phases,
			Reason: Reason{Mode: c.Mode, Code: CodeCharging, Amps: cur}}
	}
	e.dec = d
	return d
}

func (e *EvccLike) update(x *evccState, c *Charger, st ChargerState, ok bool, site float64, now time.Time) {
	v := e.Site.Voltage
	if !ok || !st.Connected || c.Mode == ModeOff {
		x.enabled, x.offered, x.enableT, x.disable = false, 0, time.Time{}, time.Time{}
		return
	}
	if c.Mode == ModeNow {
		x.enabled, x.offered = true, c.MaxCurrent
		if st.CanSwitchPhases && c.Phases == 3 {
			x.phases = 3
		}
		return
	}
	charging := st.Power > 0
	ph := float64(x.phases)
	effective := 0.0
	if charging {
		maxA := 0.0
		for _, a := range st.Currents {
			maxA = math.Max(maxA, a)
		}
		effective = math.Min(maxA+2, x.offered)
	}
	target := math.Max(effective-site/(ph*v), 0)

	if st.CanSwitchPhases && c.Phases == 3 && (x.lastSwitch.IsZero() || now.Sub(x.lastSwitch) >= time.Minute) {
		avail := st.Power - site
		switch {
		case x.phases == 3 && (site > 0 || !x.enabled) && avail/(3*v) < c.MinCurrent:
			if !charging || evccTimer(&x.phaseT, now, e.DisableDelay) {
				x.phases, x.lastSwitch, x.phaseT = 1, now, time.Time{}
				target = math.Max(avail/v, 0)
			}
		case x.phases == 1 && target > c.MaxCurrent && avail/(3*v) >= c.MinCurrent:
			if !charging || evccTimer(&x.phaseT, now, e.EnableDelay) {
				x.phases, x.lastSwitch, x.phaseT = 3, now, time.Time{}
				target = math.Max(avail/(3*v), 0)
			}
		default:
			x.phaseT = time.Time{}
		}
	}

	switch {
	case c.Mode == ModeMinPV:
		x.enabled, x.offered = true, clamp(target, c.MinCurrent, c.MaxCurrent)
	case x.enabled && target < c.MinCurrent:
		x.enableT = time.Time{}
		if site >= 0 {
			if evccTimer(&x.disable, now, e.DisableDelay) {
				x.enabled, x.offered, x.disable = false, 0, time.Time{}
				break
			}
		} else {
			x.disable = time.Time{}
		}
		x.offered = c.MinCurrent
	case !x.enabled:
		x.disable = time.Time{}
		if target >= c.MinCurrent {
			if evccTimer(&x.enableT, now, e.EnableDelay) {
				x.enabled, x.offered, x.enableT = true, c.MinCurrent, time.Time{}
			}
		} else {
			x.enableT = time.Time{}
		}
	default:
		x.enableT, x.disable = time.Time{}, time.Time{}
		x.offered = math.Min(target, c.MaxCurrent)
	}
	if c.Step >= 1 && x.offered > 0 {
		x.offered = math.Max(c.MinCurrent, math.Trunc(x.offered))
	}
}

// evccTimer starts a timer on first use and reports whether delay passed.
func evccTimer(t *time.Time, now time.Time, delay time.Duration) bool {
	if t.IsZero() {
		*t = now
	}
	return now.Sub(*t) >= delay
}
