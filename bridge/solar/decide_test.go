package solar

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// grid is a fresh grid reading at now.
func grid(w float64, now time.Time) GridReading {
	return GridReading{Power: w, Time: now, Valid: true}
}

// drawing is a connected charger drawing amps on phases.
func drawing(id string, amps float64, phases int) ChargerState {
	st := ChargerState{ID: id, Connected: true, Enabled: amps > 0, Charging: amps > 0, Setpoint: amps,
		Phases: phases, CanSwitchPhases: true, Power: amps * float64(phases) * 230, HasCurrents: true}
	for i := 0; i < phases; i++ {
		st.Currents[i] = amps
	}
	return st
}

func running(id string, amps float64, phases int, since time.Time) ChargerMemory {
	return ChargerMemory{ID: id, On: true, Current: amps, Phases: phases, OnSince: since}
}

func TestValidate(t *testing.T) {
	ok := siteWith(nil, charger("a", nil), charger("b", nil))
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := siteWith(func(s *Site) { s.PhaseLimit = 5; s.SafeCurrent = -1; s.BatteryPrioritySoC = 120 },
		charger("a", func(c *Charger) { c.MinCurrent, c.MaxCurrent = 16, 10 }),
		charger("a", func(c *Charger) { c.StartThreshold, c.StopDelay = -5, -time.Second }),
		charger("", func(c *Charger) { c.Mode, c.Phases = "eco", 2 }),
		charger("p", func(c *Charger) { c.Mode = ModePlan }),
	)
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"safe_current -1 A", "battery_priority_soc 120", "min_current 16 A is above max_current 10 A",
		"charger a: id used twice", "start_threshold and stop_threshold", "delays and minimum on/off times",
		"charger #3: id is empty", `mode "eco"`, "phases 2", "plan mode needs a positive plan_energy",
		"plan mode needs a departure time", "site limit 5 A is below its minimum current 16 A",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n < 12 {
		t.Errorf("%d problems listed, want every one:\n%v", n, err)
	}
	over := siteWith(func(s *Site) { s.PhaseLimit = 16; s.SafeCurrent = 6 }, charger("a", nil), charger("b", nil), charger("c", nil))
	if err := over.Validate(); err == nil || !strings.Contains(err.Error(), "18 A on L1") {
		t.Errorf("three safe currents over the fuse: %v", err)
	}
}

// Contradictory settings never lead to a current: the charger is held at 0.
func TestBadSettingsHoldZero(t *testing.T) {
	s := siteWith(func(s *Site) { s.PhaseLimit = 5 },
		charger("minmax", func(c *Charger) { c.Mode, c.MinCurrent, c.MaxCurrent = ModeNow, 16, 10 }),
		charger("fuse", func(c *Charger) { c.Mode = ModeNow }))
	in := Inputs{Grid: grid(0, t0), Chargers: []ChargerState{drawing("minmax", 0, 3), drawing("fuse", 0, 3)}}
	d, _ := Decide(in, Memory{}, s, t0)
	for _, c := range d.Chargers {
		if c.Current != 0 || c.Reason.Code != CodeSettings {
			t.Errorf("%s: %g A %q, want 0 A for bad settings", c.ID, c.Current, c.Reason)
		}
	}
	if got := d.Chargers[1].Reason.String(); got != "settings: minimum 6 A is above the site limit 5 A" {
		t.Errorf("reason %q", got)
	}
}

// A restart (zero Memory) adopts what the chargers do: a charging one keeps
// charging for its minimum on time even without surplus.
func TestRestartAdopts(t *testing.T) {
	s := siteWith(nil, charger("c1", nil), charger("c2", func(c *Charger) { c.Mode = ModeNow }))
	var mem Memory
	for sec := 0; sec <= 180; sec += 2 {
		now := t0.Add(time.Duration(sec) * time.Second)
		in := Inputs{Grid: grid(6900+11040, now), Chargers: []ChargerState{drawing("c1", 10, 3), drawing("c2", 16, 3)}}
		d, m := Decide(in, mem, s, now)
		mem = m
		c1 := d.Chargers[0]
		switch {
		case sec == 0 && (c1.Current != 6 || c1.Reason.Code != CodeStopDelay):
			t.Errorf("t=0: %g A %q, want 6 A while the stop timer runs", c1.Current, c1.Reason)
		case sec == 178 && (c1.Current != 6 || c1.Reason.Code != CodeMinOn):
			t.Errorf("t=178: %g A %q, want the minimum on time to hold it", c1.Current, c1.Reason)
		case sec == 180 && (c1.Current != 0 || c1.Reason.Code != CodeStopped):
			t.Errorf("t=180: %g A %q, want stopped", c1.Current, c1.Reason)
		}
		if c2 := d.Chargers[1]; c2.Current != 16 {
			t.Fatalf("t=%d: now-mode charger at %g A", sec, c2.Current)
		}
	}
}

// Contactor times saved before a restart hold after it: a charger stopped
// 30 s before the restart waits out the rest of its 2 min off time, where
// without them it would start after the 30 s start delay; one still
// charging keeps its real start, so no fresh minimum on time is granted.
func TestRestartKeepsContactorTimers(t *testing.T) {
	s := siteWith(nil, charger("c1", nil))
	firstStart := func(mem Memory) int {
		t.Helper()
		for sec := 0; sec <= 300; sec += 2 {
			now := t0.Add(time.Duration(sec) * time.Second)
			in := Inputs{Grid: grid(-8000, now), Chargers: []ChargerState{drawing("c1", 0, 3)}}
			d, m := Decide(in, mem, s, now)
			mem = m
			if d.Chargers[0].Current > 0 {
				return sec
			}
		}
		t.Fatal("never started on 8 kW of surplus")
		return 0
	}
	if got := firstStart(Memory{}); got != 30 {
		t.Fatalf("without saved timers: started at %d s, want after the 30 s start delay", got)
	}
	saved := Memory{Restored: []ChargerMemory{{ID: "c1", On: false, OffSince: t0.Add(-30 * time.Second)}}}
	if got := firstStart(saved); got != 90 {
		t.Fatalf("with saved timers: started at %d s, want 90 s (2 min after the stop)", got)
	}

	// Charging since 10 min before the restart, and no surplus now: the
	// stop comes after the stop delay, not after a new minimum on time.
	stopAt := func(mem Memory) int {
		t.Helper()
		for sec := 0; sec <= 300; sec += 2 {
			now := t0.Add(time.Duration(sec) * time.Second)
			in := Inputs{Grid: grid(6900, now), Chargers: []ChargerState{drawing("c1", 10, 3)}}
			d, m := Decide(in, mem, s, now)
			mem = m
			if d.Chargers[0].Current == 0 {
				return sec
			}
		}
		t.Fatal("never stopped without surplus")
		return 0
	}
	if got := stopAt(Memory{}); got != 180 {
		t.Fatalf("without saved timers: stopped at %d s, want the adopted minimum on time (180 s)", got)
	}
	saved = Memory{Restored: []ChargerMemory{{ID: "c1", On: true, OnSince: t0.Add(-10 * time.Minute)}}}
	if got := stopAt(saved); got != 90 {
		t.Fatalf("with saved timers: stopped at %d s, want the 90 s stop delay", got)
	}
	// A stop that happened while evbridge was down is not known: the
	// charger that was on is off now, and may start after the start delay.
	saved = Memory{Restored: []ChargerMemory{{ID: "c1", On: true, OnSince: t0.Add(-time.Hour)}}}
	if got := firstStart(saved); got != 30 {
		t.Fatalf("stopped while down: started at %d s, want 30 s", got)
	}
}

// evbridge often decides before a charger's first answer after a start:
// the charger is adopted when it answers, so a car charging through the
// restart keeps charging, and the saved timers wait for it.
func TestRestartBeforeFirstPoll(t *testing.T) {
	s := siteWith(nil, charger("c1", nil))
	mem := Memory{Restored: []ChargerMemory{{ID: "c1", On: true, OnSince: t0.Add(-10 * time.Minute)}}}
	for sec := 0; sec <= 20; sec += 2 {
		now := t0.Add(time.Duration(sec) * time.Second)
		in := Inputs{Grid: grid(-5000, now)}
		if sec >= 6 { // answers from the fourth tick
			in.Chargers = []ChargerState{drawing("c1", 10, 3)}
		}
		d, m := Decide(in, mem, s, now)
		mem = m
		c := d.Chargers[0]
		switch {
		case sec < 6 && (c.Reason.Code != CodeOffline || len(m.Restored) != 1):
			t.Fatalf("t=%d before the first answer: %g A %q, restored %v", sec, c.Current, c.Reason, m.Restored)
		case sec >= 6 && c.Current < 10:
			t.Fatalf("t=%d: the charging car was cut to %g A (%q)", sec, c.Current, c.Reason)
		case sec >= 6 && (!m.Chargers[0].OnSince.Equal(t0.Add(-10*time.Minute)) || m.Restored != nil):
			t.Fatalf("t=%d: on since %v, restored %v; want the saved start, used once", sec, m.Chargers[0].OnSince, m.Restored)
		}
	}
	// Saving before the charger answered keeps what was saved.
	unseen := Memory{Chargers: []ChargerMemory{{ID: "c1", Unseen: true}},
		Restored: []ChargerMemory{{ID: "c1", On: true, OnSince: t0}}}
	if got := unseen.Timers(); !got[0].On || !got[0].OnSince.Equal(t0) {
		t.Fatalf("timers of an unseen charger: %+v", got)
	}
}

func TestMemoryTimers(t *testing.T) {
	m := Memory{Chargers: []ChargerMemory{{ID: "a", On: true, Current: 9, Phases: 3, OnSince: t0, StartSince: t0, LastSwitch: t0.Add(-time.Hour)}}}
	want := []ChargerMemory{{ID: "a", On: true, OnSince: t0, LastSwitch: t0.Add(-time.Hour)}}
	if got := m.Timers(); !reflect.DeepEqual(got, want) {
		t.Fatalf("timers %+v, want %+v", got, want)
	}
}

// A charger without a state is offline: its last command is held and its
// draw, already in the grid reading, is not counted twice.
func TestOfflineCharger(t *testing.T) {
	s := siteWith(nil, charger("c1", nil), charger("c2", nil))
	mem := Memory{Chargers: []ChargerMemory{running("c1", 8, 3, t0.Add(-time.Hour)), running("c2", 8, 3, t0.Add(-time.Hour))}}
	// c2 is gone; the site exports 2 kW while c1 draws 8 A.
	in := Inputs{Grid: grid(-2000, t0), Chargers: []ChargerState{drawing("c1", 8, 3)}}
	d, m := Decide(in, mem, s, t0)
	if c := d.Chargers[1]; c.Current != 8 || c.Reason.Code != CodeOffline || m.Chargers[1] != mem.Chargers[1] {
		t.Errorf("offline c2: %g A %q, memory %+v", c.Current, c.Reason, m.Chargers[1])
	}
	// c1 sees the 2 kW export: 8 A + 2000/690 A = 10.9 A.
	if c := d.Chargers[0]; c.Current != 10.8 {
		t.Errorf("c1: %g A %q, want 10.8 A", c.Current, c.Reason)
	}
}

func TestSharing(t *testing.T) {
	hourAgo := t0.Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		prio   [2]int
		mem    []ChargerMemory
		states []ChargerState
		grid   float64
		want   [2]float64
		phases [2]int
	}{{
		// 2 kW for two idle cars: one starts (after its delay); splitting
		// would leave both below the 6 A minimum.
		name:   "only one fits",
		states: []ChargerState{drawing("c1", 0, 3), drawing("c2", 0, 3)},
		grid:   -2000, want: [2]float64{0, 0}, phases: [2]int{3, 3},
	}, {
		name:   "equal share",
		mem:    []ChargerMemory{running("c1", 8, 1, hourAgo), running("c2", 8, 1, hourAgo)},
		states: []ChargerState{drawing("c1", 8, 1), drawing("c2", 8, 1)},
		grid:   -5000 + 2*8*230, want: [2]float64{10.8, 10.8}, phases: [2]int{1, 1},
	}, {
		name:   "priority first",
		prio:   [2]int{0, 1},
		mem:    []ChargerMemory{running("c1", 8, 1, hourAgo), running("c2", 8, 1, hourAgo)},
		states: []ChargerState{drawing("c1", 8, 1), drawing("c2", 8, 1)},
		grid:   -5000 + 2*8*230, want: [2]float64{6, 15.7}, phases: [2]int{1, 1},
	}, {
		// c1 is offered 16 A but its car takes 8 A: its share is capped at
		// 8 + 2 A so c2 gets the rest instead of it being exported.
		name:   "car draws less",
		mem:    []ChargerMemory{running("c1", 16, 1, hourAgo), running("c2", 6, 1, hourAgo)},
		states: []ChargerState{drawing("c1", 8, 1), drawing("c2", 6, 1)},
		grid:   -5500 + 14*230, want: [2]float64{10, 13.9}, phases: [2]int{1, 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := siteWith(nil, charger("c1", func(c *Charger) { c.Priority = tc.prio[0] }),
				charger("c2", func(c *Charger) { c.Priority = tc.prio[1] }))
			in := Inputs{Grid: grid(tc.grid, t0), Chargers: tc.states}
			mem := Memory{Chargers: tc.mem}
			d, mem := Decide(in, mem, s, t0)
			if tc.name == "only one fits" {
				// After the start delay only c1 starts.
				now := t0.Add(30 * time.Second)
				in.Grid.Time = now
				d, _ = Decide(in, mem, s, now)
				if d.Chargers[0].Current != 8.6 || d.Chargers[1].Current != 0 || d.Chargers[1].Reason.Code != CodeWaiting {
					t.Fatalf("got %g A and %g A (%q)", d.Chargers[0].Current, d.Chargers[1].Current, d.Chargers[1].Reason)
				}
				return
			}
			for i, c := range d.Chargers {
				if math.Abs(c.Current-tc.want[i]) > 1e-9 || c.Phases != tc.phases[i] {
					t.Errorf("%s: %g A/%dp %q, want %g A/%dp", c.ID, c.Current, c.Phases, c.Reason, tc.want[i], tc.phases[i])
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	dep := t0.Add(4 * time.Hour)
	s := siteWith(nil, charger("c1", func(c *Charger) { c.Mode, c.PlanEnergy, c.Departure = ModePlan, 20, dep }))
	idle := drawing("c1", 0, 3)
	in := Inputs{Grid: grid(300, t0), Chargers: []ChargerState{idle}}
	// 20 kWh at 11.04 kW take 1 h 48 min 42 s; with the 30 min margin the
	// grid phase begins at 13:41:18.
	d, mem := Decide(in, Memory{}, s, t0)
	if c := d.Chargers[0]; c.Current != 0 || !strings.Contains(c.Reason.String(), "grid from 13:41") {
		t.Fatalf("before the latest start: %g A %q", c.Current, c.Reason)
	}
	at := t0.Add(time.Hour + 41*time.Minute + 20*time.Second)
	in.Grid.Time = at
	d, mem = Decide(in, mem, s, at)
	if c := d.Chargers[0]; c.Current != 16 || c.Phases != 3 || c.Reason.Code != CodePlan {
		t.Fatalf("at the latest start: %g A/%dp %q", c.Current, c.Phases, c.Reason)
	}
	if got := d.Chargers[0].Reason.String(); got != "plan: 20.0 kWh left by 16:00 → 16 A 3p" {
		t.Errorf("reason %q", got)
	}
	// Half-way with the sun's help: 10 kWh missing, 2 h left (1.5 h
	// after the margin): P = 6.67 kW → 9.7 A on 3 phases, rounded up.
	now := dep.Add(-2 * time.Hour)
	in = Inputs{Grid: grid(9.7*690, now), Chargers: []ChargerState{drawing("c1", 9.7, 3)}}
	in.Chargers[0].SessionEnergy = 10
	d, mem = Decide(in, mem, s, now)
	if c := d.Chargers[0]; c.Current != 9.7 || c.Reason.Code != CodePlan {
		t.Errorf("half-way: %g A %q", c.Current, c.Reason)
	}
	// Surplus above the plan's power is taken: 9 kW → 13 A.
	in.Grid.Power = 9.7*690 - 9000
	d, _ = Decide(in, mem, s, now)
	if c := d.Chargers[0]; c.Current != 13 || c.Reason.Code != CodeCharging {
		t.Errorf("with surplus: %g A %q", c.Current, c.Reason)
	}
	// The departure moves 5 h later: the latch releases, back to surplus.
	s.Chargers[0].Departure = dep.Add(5 * time.Hour)
	in.Grid.Power = 9.7 * 690
	d, _ = Decide(in, mem, s, now)
	if c := d.Chargers[0]; c.Reason.Code != CodeStopDelay {
		t.Errorf("departure moved: %g A %q", c.Current, c.Reason)
	}
}

func TestReasonStrings(t *testing.T) {
	for _, tc := range []struct {
		r    Reason
		want string
	}{
		{Reason{Mode: ModePV, Code: CodeCharging, Power: 2300, Amps: 10, Phases: 1}, "pv: surplus 2.3 kW → 10 A 1p"},
		{Reason{Code: CodeMeterLost, Detail: "stale 12 s", Amps: 6}, "meter lost (stale 12 s): safe 6 A"},
		{Reason{Code: CodeSiteLimit, Line: 2, Limit: 35, Amps: 8.7}, "site limit: L2 at 35 A → 8.7 A"},
		{Reason{Mode: ModePV, Code: CodeStopDelay, Wait: 29500 * time.Millisecond, Power: 800, Need: 1380}, "pv: stop in 30 s (surplus 0.8 kW < 1.4 kW)"},
		{Reason{Mode: ModePV, Code: CodeWaiting, Power: -30, Need: 1380, Battery: true, SoC: 35}, "pv: surplus 0.0 kW, needs 1.4 kW, battery first (SoC 35%)"},
		{Reason{Mode: ModeMinPV, Code: CodeMinimum, Power: 500, Amps: 6}, "minpv: surplus 0.5 kW, minimum 6 A"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// Decide depends on its arguments alone and leaves them untouched.
func TestDecidePure(t *testing.T) {
	s := siteWith(func(s *Site) { s.PhaseLimit = 25 }, charger("c1", nil), charger("c2", func(c *Charger) { c.Mode = ModeNow }))
	in := Inputs{Grid: grid(-3000, t0), Chargers: []ChargerState{drawing("c1", 8, 1), drawing("c2", 10, 3)}}
	mem := Memory{Chargers: []ChargerMemory{running("c1", 8, 1, t0.Add(-time.Minute)), running("c2", 10, 3, t0.Add(-time.Minute))}}
	keep := Memory{Chargers: append([]ChargerMemory(nil), mem.Chargers...)}
	d1, m1 := Decide(in, mem, s, t0)
	d2, m2 := Decide(in, mem, s, t0)
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(m1, m2) {
		t.Error("two calls with the same arguments differ")
	}
	if !reflect.DeepEqual(mem, keep) {
		t.Error("Decide changed the memory it was given")
	}
}
