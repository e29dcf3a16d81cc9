package solar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestInvariants is the property test of design.md's safety invariants:
// random sites, settings, meter faults, charger states and clocks (fixed
// seed), and after every tick:
//   - no NaN; a current is 0 or within the charger's [min, max] (settings
//     and device range); never above the site's per-line limit;
//   - with a good meter, the house load (counted as houseLoad documents)
//     plus the chargers stays within the site limit on every line;
//   - from the second consecutive bad meter tick every charger is at or
//     below the safe current, saying so; the first good tick resumes;
//   - no start sooner than MinOffTime after a stop; no stop sooner than
//     MinOnTime after a start unless the user, the car, the fuse or the
//     meter demanded it; no phase switch under load sooner than
//     PhaseSwitchGap after the last.
func TestInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2024))
	switches = 0
	for sc := 0; sc < 300; sc++ {
		if failed := runRandomSite(t, rng, sc); failed {
			return
		}
	}
	t.Logf("%d phase switches under load checked", switches)
}

// switches counts the phase switches under load the property test saw, so
// it can tell that it exercised the gap rule.
var switches int

type chargerTrack struct {
	lastStart, lastStop, lastSwitch time.Time
	prev                            ChargerDecision
}

func randomCharger(rng *rand.Rand, i int, now time.Time, slow bool) Charger {
	c := DefaultCharger(fmt.Sprintf("c%d", i))
	c.Mode = Modes[rng.IntN(len(Modes))]
	c.MinCurrent = float64(5 + rng.IntN(6))
	c.MaxCurrent = c.MinCurrent + float64(rng.IntN(27))
	c.Phases = []int{1, 3, 3}[rng.IntN(3)]
	c.Line = rng.IntN(4)
	c.Step = []float64{0, 0.1, 1}[rng.IntN(3)]
	c.Priority = rng.IntN(3)
	c.StartThreshold = float64(rng.IntN(600))
	c.StopThreshold = float64(rng.IntN(600))
	span := 40 // short delays make many starts, stops and switches
	if slow {
		span = 300
	}
	d := func() time.Duration { return time.Duration(rng.IntN(span)) * time.Second }
	c.StartDelay, c.StopDelay, c.MinOnTime, c.MinOffTime = d(), d(), d(), d()
	c.PhaseUpDelay, c.PhaseDownDelay, c.PhaseSwitchGap = d(), d(), d()+2*time.Minute
	c.PlanEnergy = float64(1 + rng.IntN(40))
	c.Departure = now.Add(time.Duration(rng.IntN(6*3600)) * time.Second)
	if rng.IntN(20) == 0 {
		c.MinCurrent, c.MaxCurrent = 16, 10 // contradictory: must hold 0 A
	}
	return c
}

func runRandomSite(t *testing.T, rng *rand.Rand, sc int) (failed bool) {
	now := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	site := DefaultSite()
	if rng.IntN(4) > 0 {
		site.PhaseLimit = float64(10 + rng.IntN(54))
	}
	site.SafeCurrent = float64(rng.IntN(17))
	if rng.IntN(2) == 0 {
		site.BatteryPrioritySoC = 50
	}
	n := 1 + rng.IntN(5)
	switchable := make([]bool, n)
	slow := rng.IntN(2) == 0
	for i := 0; i < n; i++ {
		site.Chargers = append(site.Chargers, randomCharger(rng, i, now, slow))
		switchable[i] = rng.IntN(2) == 0
	}
	v := site.Voltage
	var mem Memory
	tracks := make([]chargerTrack, n)
	connected := make([]bool, n)
	for i := range connected {
		connected[i] = rng.IntN(8) > 0
	}
	var house [3]float64
	pv, level := 0.0, float64(rng.IntN(14000))
	var good GridReading
	bad := 0
	fail := func(format string, args ...any) {
		t.Errorf("site %d at %s: %s", sc, now.Format("15:04:05"), fmt.Sprintf(format, args...))
		failed = true
	}
	perLine := rng.IntN(2) == 0
	for tick := 0; tick < 400 && !failed; tick++ {
		now = now.Add([]time.Duration{2, 2, 2, 2, 1, 5, 10}[rng.IntN(7)] * time.Second)
		if rng.IntN(50) == 0 {
			site.Chargers[rng.IntN(n)].Mode = Modes[rng.IntN(len(Modes))]
		}
		for l := range house {
			house[l] = math.Max(0, house[l]+rng.NormFloat64()*300)
			if rng.IntN(100) == 0 {
				house[l] = float64(rng.IntN(9000)) // spike or drop
			}
		}
		// PV wanders around a level that moves now and then, so the
		// surplus keeps crossing the 1- and 3-phase minimums.
		if rng.IntN(60) == 0 {
			level = float64(rng.IntN(14000))
		}
		pv = math.Max(0, pv+(level-pv)/5+rng.NormFloat64()*700)
		in := Inputs{PV: Some(pv)}
		if rng.IntN(3) == 0 {
			in.BatteryPower, in.BatterySoC = Some(rng.NormFloat64()*2000), Some(float64(rng.IntN(101)))
		}
		var carW float64
		var lineA [3]float64
		for i := range site.Chargers {
			c := &site.Chargers[i]
			if rng.IntN(400) == 0 {
				connected[i] = !connected[i]
			}
			prev := tracks[i].prev
			st := ChargerState{ID: c.ID, Connected: connected[i], Enabled: prev.Enabled, Setpoint: prev.Current,
				Phases: max(prev.Phases, 1), CanSwitchPhases: switchable[i], HasCurrents: true, SessionEnergy: float64(tick) / 20}
			if rng.IntN(30) == 0 {
				st.MinCurrent, st.MaxCurrent = float64(rng.IntN(12)), float64(rng.IntN(40))
			}
			draw := 0.0
			if connected[i] && prev.Enabled && rng.IntN(8) > 0 {
				draw = prev.Current * (0.5 + rng.Float64()/2)
			}
			for k := 0; k < st.Phases && draw > 0; k++ {
				st.Currents[k] = draw
				l := k
				if st.Phases == 1 {
					l = oneLine(c)
				}
				lineA[l] += draw
			}
			st.Charging = draw > 0
			st.Power = draw * float64(st.Phases) * v
			carW += st.Power
			if rng.IntN(25) == 0 {
				continue // offline this tick
			}
			in.Chargers = append(in.Chargers, st)
		}
		g := GridReading{Power: house[0] + house[1] + house[2] + carW - pv - in.BatteryPower.Value, Time: now, Valid: true}
		if perLine {
			g.HasCurrents = true
			for l := range g.Currents {
				g.Currents[l] = house[l]/v + lineA[l] - pv/3/v
			}
		}
		isBad := false
		switch k := rng.IntN(40); {
		case k == 0:
			g.Power = math.NaN()
		case k == 1:
			g = GridReading{}
		case k == 2:
			g.Power = -3e6
		case k < 5 && !good.Time.IsZero():
			g = good // stale once older than MeterMaxAge
		}
		if g.Valid && !math.IsNaN(g.Power) && math.Abs(g.Power) <= absurdPower && now.Sub(g.Time) <= site.MeterMaxAge {
			good = g
		} else {
			isBad = true
		}
		in.Grid = g
		d, m := Decide(in, mem, site, now)
		mem = m
		if bad++; !isBad {
			bad = 0
		}
		checkTick(fail, site, in, d, bad, isBad, tracks, switchable, now)
		for i := range tracks {
			tracks[i].prev = d.Chargers[i]
		}
	}
	return failed
}

func checkTick(fail func(string, ...any), site Site, in Inputs, d Decision, bad int, isBad bool,
	tracks []chargerTrack, switchable []bool, now time.Time) {
	v := site.Voltage
	online := map[string]ChargerState{}
	for _, st := range in.Chargers {
		online[st.ID] = st
	}
	var load [3]float64
	var chargerW float64
	var chargerA [3]float64
	for _, st := range in.Chargers {
		chargerW += math.Max(st.Power, 0)
		c := site.Chargers[slices.IndexFunc(site.Chargers, func(c Charger) bool { return c.ID == st.ID })]
		for k, a := range st.Currents {
			if a > 1 {
				l := k
				if st.Phases == 1 {
					l = oneLine(&c)
				}
				chargerA[l] += a
			}
		}
	}
	for i, cd := range d.Chargers {
		c := site.Chargers[i]
		st, on := online[c.ID]
		tr := &tracks[i]
		if math.IsNaN(cd.Current) || cd.Current < 0 || cd.Phases != 1 && cd.Phases != 3 || (c.Phases == 1 && cd.Phases != 1) {
			fail("%s: %g A/%dp", c.ID, cd.Current, cd.Phases)
		}
		if cd.Current > c.MaxCurrent+1e-9 || site.PhaseLimit > 0 && cd.Current > site.PhaseLimit+1e-9 {
			fail("%s: %g A above max %g A or the site limit %g A", c.ID, cd.Current, c.MaxCurrent, site.PhaseLimit)
		}
		lo, hi := c.MinCurrent, c.MaxCurrent
		if on {
			lo = math.Max(lo, st.MinCurrent)
			if st.MaxCurrent > 0 {
				hi = math.Min(hi, st.MaxCurrent)
			}
		}
		if on && cd.Current != 0 && (cd.Current < lo-1e-9 || cd.Current > hi+1e-9) {
			fail("%s: %g A outside [%g, %g] (%q)", c.ID, cd.Current, lo, hi, cd.Reason)
		}
		if c.MinCurrent > c.MaxCurrent && cd.Current != 0 {
			fail("%s: bad settings, yet %g A", c.ID, cd.Current)
		}
		if on && cd.Reason.Code != CodeMeterHold {
			for l, use := range c.lines(cd.Phases) {
				if use {
					load[l] += cd.Current
				}
			}
		}
		if bad >= 2 && on {
			if cd.Current > site.SafeCurrent+1e-9 {
				fail("%s: %g A on a lost meter, safe is %g A", c.ID, cd.Current, site.SafeCurrent)
			}
			if !slices.Contains([]Code{CodeMeterLost, CodeOff, CodeNoVehicle, CodeSettings}, cd.Reason.Code) {
				fail("%s: meter lost for %d ticks, reason %q ", c.ID, bad, cd.Reason)
			}
		}
		if !isBad && (cd.Reason.Code == CodeMeterLost || cd.Reason.Code == CodeMeterHold) {
			fail("%s: good meter, reason %q", c.ID, cd.Reason)
		}
		switch prev := tr.prev; {
		case cd.Enabled && !prev.Enabled:
			if !tr.lastStop.IsZero() && now.Sub(tr.lastStop) < c.MinOffTime {
				fail("%s: started %v after a stop, min off %v", c.ID, now.Sub(tr.lastStop), c.MinOffTime)
			}
			tr.lastStart = now
		case !cd.Enabled && prev.Enabled:
			forced := []Code{CodeOff, CodeNoVehicle, CodeSiteLimit, CodeMeterLost, CodeMeterHold, CodeSettings}
			if !tr.lastStart.IsZero() && now.Sub(tr.lastStart) < c.MinOnTime && !slices.Contains(forced, cd.Reason.Code) {
				fail("%s: stopped %v after a start, min on %v (%q)", c.ID, now.Sub(tr.lastStart), c.MinOnTime, cd.Reason)
			}
			tr.lastStop = now
		case cd.Enabled && prev.Enabled && cd.Phases != prev.Phases && switchable[i]:
			if !tr.lastSwitch.IsZero() && now.Sub(tr.lastSwitch) < c.PhaseSwitchGap {
				fail("%s: phase switch %v after the last, gap %v", c.ID, now.Sub(tr.lastSwitch), c.PhaseSwitchGap)
			}
			tr.lastSwitch = now
			switches++
		}
	}
	if isBad || !(site.PhaseLimit > 0) {
		return
	}
	for l := range load {
		var house float64
		if in.Grid.HasCurrents {
			house = math.Max(0, in.Grid.Currents[l]-chargerA[l])
		} else {
			fuse := in.Grid.Power - chargerW + math.Max(in.PV.Value, 0)
			if in.BatteryPower.Valid {
				fuse += math.Max(in.BatteryPower.Value, 0)
			}
			house = math.Max(0, fuse/v)
		}
		if load[l] > 0 && house+load[l] > site.PhaseLimit+1e-6 {
			fail("L%d: house %.2f A + chargers %.2f A over the %g A limit", l+1, house, load[l], site.PhaseLimit)
		}
	}
}
