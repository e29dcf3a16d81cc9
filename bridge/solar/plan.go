package solar

import (
	"math"
	"time"
)

// Plan mode: reach Charger.PlanEnergy (kWh in this session) by
// Charger.Departure, from the sun first and from the grid only for what
// the sun has not delivered, as late as possible.
//
// Without a PV forecast the controller cannot know what the sun will still
// deliver, so "as late as possible" is taken literally: until the latest
// start it charges like pv (surplus only); the latest start is when the
// energy still missing needs the whole time left (less Site.PlanMargin) at
// the charger's maximum power (3 phases where it can switch). From then on
// the plan's grid phase is latched: the charger runs at least at the power
// that finishes on time, P = missing energy / time left, and takes any
// surplus above it. Charging at P rather than at full power keeps the
// latch stable: energy the sun adds lowers P instead of switching back to
// pv and cycling the contactor. The latch releases when the target is
// reached, at the departure, or when the departure moves so far away that
// P falls below half the maximum. Anything left after the departure is
// charged like pv.

// planStep decides whether a plan charger is in its grid phase and, if so,
// the power it needs.
func planStep(u *unit, s *Site, now time.Time) {
	c := u.cfg
	left := c.PlanEnergy - u.st.SessionEnergy
	ph := u.drawPh
	if u.canSwitch {
		ph = 3
	}
	pmax := u.maxPower(ph)
	if !(left > 0) || !now.Before(c.Departure) || !(pmax > 0) {
		u.mem.PlanActive = false
		return
	}
	until := c.Departure.Sub(now) - s.PlanMargin
	need := time.Duration(left * 1000 / pmax * float64(time.Hour))
	if !u.mem.PlanActive && until <= need+s.Tick {
		u.mem.PlanActive = true
	}
	if u.mem.PlanActive && until > 2*need {
		u.mem.PlanActive = false
	}
	if !u.mem.PlanActive {
		return
	}
	p := pmax
	if until > s.Tick {
		p = math.Min(pmax, left*1000/until.Hours())
	}
	u.planW, u.planLeft, u.mustRun = p, left, true
}

// applyPlan raises a running charger to the plan's power, on 3 phases when
// one phase cannot carry it.
func applyPlan(u *unit, now time.Time) {
	if u.planW <= 0 || !u.on {
		return
	}
	if u.canSwitch && u.phases == 1 && u.planW > u.maxPower(1) && (!u.prevOn || gapLeft(u, now) <= 0) {
		switchPhases(u, 3, now)
		u.cur = math.Max(u.min, u.cur/3)
	}
	req := u.planW / (float64(u.drawPh) * u.v)
	req = clamp(quantize(req, u.cfg.Step, math.Ceil), u.min, u.max)
	if req >= u.cur {
		u.cur = req
		u.reason = Reason{Code: CodePlan, Energy: u.planLeft, At: u.cfg.Departure, Amps: req, Phases: u.phases}
	}
}

// planNote tells a plan charger still in its surplus phase when the grid
// phase would begin, or that the target is reached.
func planNote(u *unit, s *Site) {
	c := u.cfg
	if c.Mode != ModePlan || u.planW > 0 {
		return
	}
	left := c.PlanEnergy - u.st.SessionEnergy
	if !(left > 0) {
		u.reason.Detail = "plan target reached"
		return
	}
	ph := u.drawPh
	if u.canSwitch {
		ph = 3
	}
	if pmax := u.maxPower(ph); pmax > 0 {
		need := time.Duration(left * 1000 / pmax * float64(time.Hour))
		u.reason.At = c.Departure.Add(-s.PlanMargin - need)
	}
}
