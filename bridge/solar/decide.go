package solar

import (
	"fmt"
	"math"
	"time"
)

// absurdPower bounds a plausible grid reading, W: a home connection is far
// below 1 MW, so anything beyond is a decoding or scaling fault.
const absurdPower = 1e6

// unit is one charger while Decide works on it.
type unit struct {
	idx    int
	cfg    *Charger
	st     ChargerState
	online bool
	mem    ChargerMemory // the new memory, starting as a copy of the old
	prevOn bool

	min, max  float64 // effective range, A
	canSwitch bool    // switchable and wired for 3 phases
	phases    int     // phases commanded (1 or 3)
	drawPh    int     // phases the car draws on, for power↔current (1–3)
	power     float64 // measured charging power, W (0 when unknown)
	amps      [3]float64
	v         float64 // site voltage

	// Outcome.
	fixed    bool    // decided before sharing and the site limit (hold, off…)
	pv       bool    // takes part in surplus sharing
	mustRun  bool    // minpv, or plan's grid phase: never stopped for surplus
	planW    float64 // power plan's grid phase needs, W (0: not in it)
	planLeft float64 // energy the plan still misses, kWh
	running  bool    // charging this tick in the sharing stage
	share    float64 // surplus share, W
	room     float64 // W a charger can still take while sharing
	on       bool
	cur      float64 // A before quantization
	reason   Reason

	// Site-limit allocation.
	lines     [3]bool
	want, got float64
	bind      int
}

// Decide computes one tick's commands for every charger in cfg.Chargers.
// It is pure: everything it knows comes from its arguments, and the
// returned Memory is the only state to keep for the next call. Decisions
// come out in cfg.Chargers order.
func Decide(in Inputs, mem Memory, cfg Site, now time.Time) (Decision, Memory) {
	s := cfg.withDefaults()
	n := len(s.Chargers)
	var buf [2]unit // no heap for the common small site
	us := buf[:]
	if n > len(buf) {
		us = make([]unit, n)
	}
	us = us[:n]
	for i := range us {
		initUnit(&us[i], i, &s.Chargers[i], in, mem, now, s.Voltage)
	}
	dec := Decision{Chargers: make([]ChargerDecision, n), Grid: in.Grid.Power}
	nm := Memory{MeterBad: mem.MeterBad, HouseAmps: mem.HouseAmps, Chargers: make([]ChargerMemory, n)}
	inf := math.Inf(1)
	dec.Headroom = [3]float64{inf, inf, inf}

	for i := range us {
		presetFixed(&us[i], &s)
	}
	bad := gridProblem(in.Grid, now, &s)
	switch {
	case bad != "":
		nm.MeterBad++
		dec.Meter = bad
		if nm.MeterBad < 2 {
			for i := range us {
				holdLast(&us[i], CodeMeterHold, bad)
			}
			break
		}
		for i := range us {
			meterLost(&us[i], &s, now, bad)
		}
		dec.Headroom = siteLimit(us, mem.HouseAmps, &s)
	default:
		nm.MeterBad = 0
		dec.MeterOK = true
		house, houseAmps := houseLoad(in, us, &s)
		dec.House = house
		nm.HouseAmps = houseAmps
		dec.Surplus = control(in, us, &s, now)
		dec.Headroom = siteLimit(us, houseAmps, &s)
	}
	for i := range us {
		dec.Chargers[i], nm.Chargers[i] = finish(&us[i], now)
	}
	// Saved timers wait for chargers not seen online yet.
	for _, r := range mem.Restored {
		if m, ok := findMem(nm.Chargers, -1, r.ID); ok && m.Unseen {
			nm.Restored = append(nm.Restored, r)
		}
	}
	return dec, nm
}

// initUnit gathers one charger's settings, state and memory into the zero
// unit u.
func initUnit(u *unit, i int, c *Charger, in Inputs, mem Memory, now time.Time, v float64) {
	u.idx, u.cfg, u.v = i, c, v
	u.st, u.online = findState(in.Chargers, i, c.ID)
	m, ok := findMem(mem.Chargers, i, c.ID)
	if !ok || m.Unseen && u.online {
		m = adopt(c, u.st, u.online, now)
		if r, ok := findMem(mem.Restored, -1, c.ID); ok {
			m = restoreTimers(m, r)
		}
	}
	u.mem, u.prevOn = m, m.On
	u.min, u.max = c.MinCurrent, c.MaxCurrent
	if u.online {
		if u.st.MinCurrent > u.min {
			u.min = u.st.MinCurrent
		}
		if u.st.MaxCurrent > 0 && u.st.MaxCurrent < u.max {
			u.max = u.st.MaxCurrent
		}
	}
	u.canSwitch = u.online && u.st.CanSwitchPhases && c.Phases == 3
	u.phases = m.Phases
	if !u.canSwitch && u.online && (u.st.Phases == 1 || u.st.Phases == 3) {
		u.phases = u.st.Phases // the charger decides; we only follow
	}
	if c.Phases == 1 || (u.phases != 1 && u.phases != 3) {
		u.phases = max(1, min(c.Phases, 3))
	}
	if u.phases == 2 {
		u.phases = 3
	}
	u.drawPh = u.phases
	if !u.online {
		return
	}
	if u.st.HasCurrents {
		n := 0
		for k, a := range u.st.Currents {
			if a > 1 && !math.IsInf(a, 0) { // a phase counts as drawing above 1 A
				n++
				line := k
				if u.phases == 1 {
					line = oneLine(c) // the charger's L1 is wired to grid line c.Line
				}
				u.amps[line] += a
			}
		}
		if n > 0 && u.st.Charging {
			u.drawPh = n
		}
	}
	if p := u.st.Power; p > 0 && !math.IsInf(p, 0) {
		u.power = p
	} else if u.st.HasCurrents {
		for _, a := range u.amps {
			u.power += a * v
		}
	}
	if !u.st.HasCurrents && u.power > 0 {
		per := u.power / (v * float64(u.phases))
		for l, on := range c.lines(u.phases) {
			if on {
				u.amps[l] = per
			}
		}
	}
}

// findState returns the state with id, trying index i first since callers
// usually pass states in settings order.
func findState(states []ChargerState, i int, id string) (ChargerState, bool) {
	if i < len(states) && states[i].ID == id {
		return states[i], true
	}
	for _, st := range states {
		if st.ID == id {
			return st, true
		}
	}
	return ChargerState{}, false
}

func findMem(ms []ChargerMemory, i int, id string) (ChargerMemory, bool) {
	if i >= 0 && i < len(ms) && ms[i].ID == id {
		return ms[i], true
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return ChargerMemory{}, false
}

// adopt builds the memory of a charger Decide has not seen before (first
// call, restart, new charger): whatever the charger is doing is taken as
// the controller's own last command, started now, so the minimum on time
// keeps a running charger running and nothing changes until a rule says so.
// An idle charger has no known stop time and may start at once; keep Memory
// across restarts to keep the contactor timers.
func adopt(c *Charger, st ChargerState, online bool, now time.Time) ChargerMemory {
	m := ChargerMemory{ID: c.ID, Phases: st.Phases, Unseen: !online}
	if online && st.Connected && st.Enabled && st.Setpoint >= c.MinCurrent {
		m.On, m.Current, m.OnSince = true, st.Setpoint, now
	}
	return m
}

// restoreTimers puts saved contactor times into an adopted memory where
// they still describe the charger: a charger still on keeps its real
// start (the minimum on time is not granted again), one still off its
// real stop (a restart does not cut the minimum off time short), and the
// last phase switch stays. A charger whose state changed while evbridge
// was down keeps adopt's view: the saved time is no longer its.
func restoreTimers(m, saved ChargerMemory) ChargerMemory {
	m.LastSwitch = saved.LastSwitch
	switch {
	case m.On && saved.On && !saved.OnSince.IsZero():
		m.OnSince = saved.OnSince
	case !m.On && !saved.On:
		m.OffSince = saved.OffSince
	}
	return m
}

// gridProblem says what is wrong with a grid reading, "" when nothing.
func gridProblem(g GridReading, now time.Time, s *Site) string {
	switch {
	case !g.Valid:
		return "no reading"
	case math.IsNaN(g.Power) || math.IsInf(g.Power, 0):
		return "not a number"
	case math.Abs(g.Power) > absurdPower:
		return "absurd value"
	case g.Time.IsZero():
		return "no timestamp"
	case now.Sub(g.Time) > s.MeterMaxAge:
		return fmt.Sprintf("stale %s", secs(now.Sub(g.Time)))
	case g.Time.Sub(now) > s.MeterMaxAge:
		return "timestamp in the future"
	}
	if g.HasCurrents {
		for _, a := range g.Currents {
			if math.IsNaN(a) || math.Abs(a) > absurdPower/230 {
				return "bad phase current"
			}
		}
	}
	return ""
}

// presetFixed settles the chargers whose decision does not depend on the
// meter: offline, bad settings, no vehicle, mode off. Stopping for these
// ignores the minimum on time: the user or the car asked for it.
func presetFixed(u *unit, s *Site) {
	c := u.cfg
	problems := c.problems()
	switch {
	case !u.online:
		holdLast(u, CodeOffline, "")
	case len(problems) > 0:
		u.fixed, u.reason = true, Reason{Code: CodeSettings, Detail: problems[0]}
	case u.max < u.min:
		u.fixed, u.reason = true, Reason{Code: CodeSettings, Detail: fmt.Sprintf("the charger accepts %s–%s, outside the configured range", amps(u.st.MinCurrent), amps(u.st.MaxCurrent))}
	case s.PhaseLimit > 0 && u.min > s.PhaseLimit:
		u.fixed, u.reason = true, Reason{Code: CodeSettings, Detail: fmt.Sprintf("minimum %s is above the site limit %s", amps(u.min), amps(s.PhaseLimit))}
	case !u.st.Connected:
		u.fixed, u.reason = true, Reason{Code: CodeNoVehicle}
	case c.Mode == ModeOff:
		u.fixed, u.reason = true, Reason{Code: CodeOff}
	}
}

// holdLast repeats the last command: for a charger we cannot reach, and for
// every charger on the first bad meter tick.
func holdLast(u *unit, code Code, detail string) {
	if u.fixed {
		return
	}
	u.fixed = true
	u.on = u.prevOn && u.mem.Current >= u.min
	u.cur = math.Min(u.mem.Current, u.max)
	u.reason = Reason{Code: code, Detail: detail}
}

// meterLost applies the safe current. Chargers that were charging, or whose
// mode charges regardless of surplus, go to Site.SafeCurrent (0 when it is
// below their minimum); an idle pv charger stays idle, since no surplus can
// be seen. Phases stay as they are: no switching blind.
func meterLost(u *unit, s *Site, now time.Time, why string) {
	u.mem.StartSince, u.mem.StopSince, u.mem.UpSince, u.mem.DownSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if u.fixed {
		return
	}
	u.fixed = true
	m := u.cfg.Mode
	active := u.prevOn || m == ModeNow || m == ModeMinPV || (m == ModePlan && u.mem.PlanActive)
	safe := math.Min(s.SafeCurrent, u.max)
	if active && !u.prevOn && offLeft(u, now) > 0 {
		active = false
	}
	u.reason = Reason{Code: CodeMeterLost, Detail: why}
	if active && safe >= u.min {
		u.on, u.cur, u.reason.Amps = true, safe, safe
	}
}

// finish turns a unit's outcome into its command and new memory, keeping
// every current within [min, max] or at 0.
func finish(u *unit, now time.Time) (ChargerDecision, ChargerMemory) {
	m := u.mem
	cur := u.cur
	cur = quantize(cur, u.cfg.Step, math.Floor)
	cur = math.Min(cur, u.max)
	if !u.on || !(cur >= u.min-1e-9) || math.IsNaN(cur) {
		u.on, cur = false, 0
	} else {
		cur = math.Max(cur, u.min)
	}
	u.reason.Amps = cur
	if u.reason.Code != CodeOffline {
		switch {
		case u.on && !u.prevOn:
			m.OnSince = now
		case !u.on && u.prevOn:
			m.OffSince = now
		}
		m.On, m.Current, m.Phases = u.on, cur, u.phases
	}
	if !u.pv {
		m.StartSince, m.StopSince, m.UpSince, m.DownSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if u.reason.Mode == "" && u.reason.Code != CodeOff {
		switch u.reason.Code {
		case CodeNow, CodeCharging, CodeMinimum, CodeWaiting, CodeStartDelay, CodeMinOff,
			CodeStopDelay, CodeMinOn, CodeStopped, CodePhaseDelay, CodePhaseSwitch, CodePlan:
			u.reason.Mode = u.cfg.Mode
		}
	}
	if u.reason.Phases == 0 {
		u.reason.Phases = u.phases
	}
	d := ChargerDecision{ID: u.cfg.ID, Current: cur, Enabled: cur > 0, Phases: u.phases, Reason: u.reason}
	return d, m
}

// offLeft is how long the contactor must still rest before a start.
func offLeft(u *unit, now time.Time) time.Duration {
	if u.mem.OffSince.IsZero() {
		return 0
	}
	return u.cfg.MinOffTime - now.Sub(u.mem.OffSince)
}

// onLeft is how long a running charger must still run before a surplus stop.
func onLeft(u *unit, now time.Time) time.Duration {
	if u.mem.OnSince.IsZero() {
		return 0
	}
	return u.cfg.MinOnTime - now.Sub(u.mem.OnSince)
}

// quantize rounds v to a multiple of step with round (math.Floor or
// math.Ceil), dividing by the step's inverse where that is whole so that
// 97 steps of 0.1 A read 9.7, not 9.700000000000001.
func quantize(v, step float64, round func(float64) float64) float64 {
	if !(step > 0) {
		return v
	}
	eps := 1e-9
	if round(0.5) > 0 { // ceil
		eps = -eps
	}
	k := round(v/step + eps)
	if inv := math.Round(1 / step); math.Abs(1/step-inv) < 1e-9 {
		return k / inv
	}
	return k * step
}
