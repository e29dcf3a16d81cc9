package solar

import (
	"math"
	"time"
)

// slackAmps is how far above its measured draw a car's share may be capped
// when several chargers share the surplus: a car drawing 10 A of an offered
// 16 A (its own on-board limit, or a nearly full battery) leaves the rest
// to the others instead of exporting it. evcc uses the same 2 A slack.
const slackAmps = 2

// settleTime is how long a charger must have run before its measured draw
// is trusted for that cap: cars take seconds to ramp after a start.
const settleTime = 30 * time.Second

// batteryYield is the power, W, the cars give up per tick to a home battery
// that has priority and is charging (evcc keeps back 100 W the same way).
const batteryYield = 100

// control runs the modes on a good meter reading and returns the surplus
// available to the pv, minpv and plan chargers, W.
//
// Surplus = export − ResidualPower + the power those chargers draw now.
// Counting their measured draw (not their setpoints) makes the surplus an
// absolute figure, independent of how far a car has ramped, so the
// controller does not wind up while a car lags. Chargers in mode now draw
// from the grid anyway and are not added back. The home battery: below
// BatteryPrioritySoC its charging power stays with it (only export is
// surplus, less batteryYield while it charges); above, its charging power
// is surplus too. A discharging battery
// is subtracted in both cases, so the house battery never feeds a car in pv
// mode.
func control(in Inputs, us []unit, s *Site, now time.Time) float64 {
	surplus := -in.Grid.Power - s.ResidualPower
	var buf [8]int // indices, not pointers, so us can stay on the stack
	list := buf[:0]
	for i := range us {
		u := &us[i]
		if u.fixed {
			continue
		}
		if u.cfg.Mode == ModeNow {
			runNow(u, now)
			continue
		}
		u.pv = true
		surplus += u.power
		list = append(list, i)
	}
	battery, soc := false, math.NaN()
	if b := in.BatteryPower; b.Valid && !math.IsNaN(b.Value) && !math.IsInf(b.Value, 0) {
		if in.BatterySoC.Valid {
			soc = in.BatterySoC.Value
		}
		prio := s.BatteryPrioritySoC > 0 && !(soc >= s.BatteryPrioritySoC)
		if prio {
			surplus -= math.Max(b.Value, 0)
			if b.Value < 0 {
				// The battery soaks up the export, so the surplus would
				// stay at what the cars draw now: yield a little each
				// tick so the cars back off in the battery's favour.
				surplus -= batteryYield
				battery = true
			}
		} else {
			surplus -= b.Value
		}
	}
	for _, i := range list {
		switch u := &us[i]; u.cfg.Mode {
		case ModeMinPV:
			u.mustRun = true
		case ModePlan:
			planStep(u, s, now)
		}
	}
	sharePV(us, list, surplus, now)
	for _, i := range list {
		u := &us[i]
		if battery {
			u.reason.Battery, u.reason.SoC = true, soc
		}
		planNote(u, s)
	}
	return surplus
}

// runNow charges at the maximum on all wired phases; the site limit trims
// it afterwards.
func runNow(u *unit, now time.Time) {
	if u.canSwitch && u.phases == 1 && (!u.prevOn || gapLeft(u, now) <= 0) {
		switchPhases(u, 3, now)
	}
	if !u.prevOn {
		if l := offLeft(u, now); l > 0 {
			u.reason = Reason{Code: CodeMinOff, Wait: l}
			return
		}
	}
	u.on, u.cur, u.reason = true, u.max, Reason{Code: CodeNow}
}

// sharePV shares the surplus among the pv, minpv and plan chargers.
//
// The rule, and why:
//  1. Chargers already running keep their minimum first, in priority
//     order. Stopping a running car to start another would cycle two
//     contactors for no energy gain; when the surplus falls short, the
//     lowest-priority running charger is the one whose stop timer runs.
//  2. Idle chargers start in priority order when what is left covers their
//     minimum (plus StartThreshold) for StartDelay; so a second car starts
//     only once both can run at the minimum, never by splitting 2 kW into
//     two shares below the 6 A minimum where neither could charge.
//  3. What is left above the minimums goes to the highest priority first,
//     and equally (in watts) among equal priorities, up to each charger's
//     maximum: equal watts because that is what "fair" means to two owners
//     paying for energy, whatever their cars' phase counts.
func sharePV(us []unit, list []int, surplus float64, now time.Time) {
	if len(list) == 0 {
		return
	}
	sortUnits(us, list)
	rem := surplus
	for _, i := range list {
		u := &us[i]
		if !u.prevOn {
			continue
		}
		g := math.Max(0, math.Min(rem, u.minPower(u.drawPh)))
		u.share, u.running = g, true
		rem -= g
	}
	for _, i := range list {
		u := &us[i]
		if u.prevOn {
			continue
		}
		if tryStart(u, rem, now) {
			g := math.Max(0, math.Min(rem, u.minPower(u.drawPh)))
			u.share, u.running = g, true
			rem -= g
		}
	}
	if rem > 0 {
		running := 0
		for _, i := range list {
			if us[i].running {
				running++
			}
		}
		for a := 0; a < len(list) && rem > 0; {
			b := a
			for b < len(list) && us[list[b]].cfg.Priority == us[list[a]].cfg.Priority {
				b++
			}
			rem = fillGroup(us, list[a:b], rem, running > 1, now)
			a = b
		}
	}
	leftover := math.Max(rem, 0)
	for _, i := range list {
		if u := &us[i]; u.running {
			leftover = settle(u, leftover, now)
		}
	}
}

// fillGroup water-fills rem watts over the running chargers of one
// priority: equal increments, each capped at its maximum power.
func fillGroup(us []unit, g []int, rem float64, multi bool, now time.Time) float64 {
	for _, i := range g {
		u := &us[i]
		u.room = 0
		if u.running {
			u.room = math.Max(0, capPower(u, multi, now)-u.share)
		}
	}
	for rem > 1e-9 {
		k := 0
		for _, i := range g {
			if us[i].room > 1e-9 {
				k++
			}
		}
		if k == 0 {
			break
		}
		eq := rem / float64(k)
		capped := false
		for _, i := range g {
			if u := &us[i]; u.room > 1e-9 && u.room <= eq {
				u.share += u.room
				rem -= u.room
				u.room, capped = 0, true
			}
		}
		if capped {
			continue
		}
		for _, i := range g {
			if u := &us[i]; u.room > 1e-9 {
				u.share += eq
				u.room -= eq
			}
		}
		rem = 0
	}
	return rem
}

// capPower is the most a running charger can take, W.
func capPower(u *unit, multi bool, now time.Time) float64 {
	p := u.maxPower(u.drawPh)
	if !multi || !u.prevOn || u.mem.OnSince.IsZero() || now.Sub(u.mem.OnSince) < settleTime {
		return p
	}
	drawn := u.power / (float64(u.drawPh) * u.v)
	if drawn < u.mem.Current-slackAmps {
		p = math.Max(u.minPower(u.drawPh), math.Min(p, (drawn+slackAmps)*float64(u.drawPh)*u.v))
	}
	return p
}

// sortUnits orders by priority (high first), running before idle, then
// settings order; insertion sort, since the lists are short and this
// allocates nothing.
func sortUnits(us []unit, l []int) {
	less := func(x, y int) bool {
		a, b := &us[x], &us[y]
		if a.cfg.Priority != b.cfg.Priority {
			return a.cfg.Priority > b.cfg.Priority
		}
		if a.prevOn != b.prevOn {
			return a.prevOn
		}
		return a.idx < b.idx
	}
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && less(l[j], l[j-1]); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

func (u *unit) minPower(ph int) float64 { return u.min * float64(ph) * u.v }
func (u *unit) maxPower(ph int) float64 { return u.max * float64(ph) * u.v }
