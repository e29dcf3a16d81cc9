package solar

import "math"

// siteLimit caps all chargers together so that on every line the house
// load (estimated by houseLoad, or the last known one while the meter is
// lost) plus the chargers' currents stays within Site.PhaseLimit. It works
// in every mode, now included: this is dynamic load balancing.
//
// Allocation, and why:
//  1. Admission in priority order (running chargers before idle ones of
//     the same priority, then settings order): each charger needs its
//     minimum on each of its lines. One that does not fit is stopped (or
//     not started): a current below the minimum is not a choice, and the
//     fuse outranks the contactor's minimum on time.
//  2. The room above the admitted minimums is filled priority by priority,
//     in equal amps per charger (progressive filling over the lines), up to
//     what each charger wanted. Equal amps because the fuse is a per-line
//     current limit; a line that fills up freezes only the chargers on it.
//
// Chargers that are offline or holding their last command (first bad meter
// tick) take no part: what they draw is already in the measured house load.
// It returns the room left per line, A.
func siteLimit(us []unit, house [3]float64, s *Site) [3]float64 {
	inf := math.Inf(1)
	if !(s.PhaseLimit > 0) {
		return [3]float64{inf, inf, inf}
	}
	var room [3]float64
	for l := range room {
		room[l] = s.PhaseLimit - house[l]
	}
	var buf [8]int
	list := buf[:0]
	for i := range us {
		u := &us[i]
		if u.on && u.reason.Code != CodeOffline && u.reason.Code != CodeMeterHold {
			list = append(list, i)
		}
	}
	sortUnits(us, list)
	n := 0
	for _, i := range list {
		u := &us[i]
		u.lines = u.cfg.lines(u.phases)
		worst := -1
		for l, on := range u.lines {
			if on && room[l] < u.min-1e-9 && (worst < 0 || room[l] < room[worst]) {
				worst = l
			}
		}
		if worst >= 0 {
			shed(u, worst, s)
			continue
		}
		for l, on := range u.lines {
			if on {
				room[l] -= u.min
			}
		}
		u.cur = math.Max(u.cur, u.min)
		u.want, u.got, u.bind = u.cur-u.min, 0, -1
		list[n] = i
		n++
	}
	list = list[:n]
	for a := 0; a < len(list); {
		b := a
		for b < len(list) && us[list[b]].cfg.Priority == us[list[a]].cfg.Priority {
			b++
		}
		fillLines(us, list[a:b], &room)
		a = b
	}
	for _, i := range list {
		u := &us[i]
		if u.got < u.want-1e-9 {
			l := u.bind
			if l < 0 {
				l = 0
			}
			u.cur = u.min + u.got
			if u.reason.Code == CodeMeterLost {
				u.reason.Amps = u.cur
			} else {
				u.reason = Reason{Code: CodeSiteLimit, Line: l + 1, Limit: s.PhaseLimit, Amps: u.cur}
			}
		}
	}
	return room
}

// shed stops a charger the site limit cannot fit at its minimum.
func shed(u *unit, line int, s *Site) {
	u.on, u.cur = false, 0
	if u.reason.Code == CodeMeterLost {
		u.reason.Amps = 0
		return
	}
	u.reason = Reason{Code: CodeSiteLimit, Line: line + 1, Limit: s.PhaseLimit}
}

// fillLines raises every unsatisfied charger of one priority by the same
// amount until it has what it wanted or one of its lines is full.
func fillLines(us []unit, g []int, room *[3]float64) {
	const eps = 1e-9
	for {
		var k [3]int
		delta := math.Inf(1)
		active := 0
		for _, i := range g {
			u := &us[i]
			if u.want-u.got <= eps || u.bind >= 0 {
				continue
			}
			active++
			delta = math.Min(delta, u.want-u.got)
			for l, on := range u.lines {
				if on {
					k[l]++
				}
			}
		}
		if active == 0 {
			return
		}
		for l := range k {
			if k[l] > 0 {
				delta = math.Min(delta, math.Max(0, room[l])/float64(k[l]))
			}
		}
		for _, i := range g {
			if u := &us[i]; u.want-u.got > eps && u.bind < 0 {
				u.got += delta
			}
		}
		for l := range k {
			room[l] -= float64(k[l]) * delta
		}
		for _, i := range g {
			u := &us[i]
			if u.want-u.got <= eps || u.bind >= 0 {
				continue
			}
			for l, on := range u.lines {
				if on && room[l] <= eps {
					u.bind = l
					break
				}
			}
		}
	}
}

// houseLoad estimates the house load without the chargers: in W for
// display, and per line in A for the site limit. With per-line meter
// currents each line is measured minus the chargers on it. With only the
// total, the whole load is assumed on every line, because one 3.5 kW oven
// on L1 puts all of it on one line and the meter cannot say which; a
// discharging home battery counts as load (it may empty), PV gives no
// credit (a cloud takes it away within seconds, and a 1-phase inverter may
// feed another line). Negative per-line loads are floored at 0 so the
// chargers alone never exceed the fuse.
func houseLoad(in Inputs, us []unit, s *Site) (float64, [3]float64) {
	var chargers float64
	var amps [3]float64
	for i := range us {
		chargers += us[i].power
		for l := range amps {
			amps[l] += us[i].amps[l]
		}
	}
	house := in.Grid.Power - chargers
	fuse := house
	if in.PV.Valid && in.PV.Value > 0 && !math.IsInf(in.PV.Value, 0) {
		house += in.PV.Value
		fuse += in.PV.Value
	}
	if b := in.BatteryPower; b.Valid && !math.IsNaN(b.Value) && !math.IsInf(b.Value, 0) {
		house += b.Value
		fuse += math.Max(b.Value, 0)
	}
	var out [3]float64
	for l := range out {
		if in.Grid.HasCurrents {
			out[l] = math.Max(0, in.Grid.Currents[l]-amps[l])
		} else {
			out[l] = math.Max(0, fuse/s.Voltage)
		}
	}
	return house, out
}
