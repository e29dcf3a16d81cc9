package solar

import (
	"math"
	"time"
)

// tryStart decides whether an idle pv, minpv or plan charger starts this
// tick, given the surplus rem left by the chargers before it. minpv and
// plan's grid phase start as soon as the contactor has rested; pv needs
// the minimum charging power plus StartThreshold for StartDelay.
func tryStart(u *unit, rem float64, now time.Time) bool {
	c := u.cfg
	if u.mustRun {
		p := startPhases(u, rem)
		if u.planW > 0 && u.canSwitch && u.planW > u.maxPower(1) {
			p = 3
		}
		if l := offLeft(u, now); l > 0 {
			u.reason = Reason{Code: CodeMinOff, Wait: l}
			return false
		}
		switchPhases(u, p, now)
		return true
	}
	p := startPhases(u, rem)
	need := u.minPower(p) + c.StartThreshold
	if rem < need {
		u.mem.StartSince = time.Time{}
		u.reason = Reason{Code: CodeWaiting, Power: rem, Need: need}
		return false
	}
	if l := timer(&u.mem.StartSince, now, c.StartDelay); l > 0 {
		u.reason = Reason{Code: CodeStartDelay, Wait: l, Power: rem}
		return false
	}
	if l := offLeft(u, now); l > 0 {
		u.reason = Reason{Code: CodeMinOff, Wait: l, Power: rem}
		return false
	}
	u.mem.StartSince = time.Time{}
	switchPhases(u, p, now)
	return true
}

// settle turns a running charger's share into a current: follow the
// surplus, or when it falls below the minimum power, switch 3→1 phases if
// one phase would do, else hold the minimum while the stop timer runs.
// leftover is surplus nobody could take (chargers at their maximum); the
// first 1-phase charger that could use it on 3 phases claims it for a
// switch up. Returns what is left of it.
func settle(u *unit, leftover float64, now time.Time) float64 {
	c := u.cfg
	u.on = true
	share, minP := u.share, u.minPower(u.drawPh)
	if share < minP-c.StopThreshold {
		u.mem.StartSince, u.mem.UpSince = time.Time{}, time.Time{}
		switch {
		case u.planW > 0:
			u.mem.StopSince, u.mem.DownSince = time.Time{}, time.Time{}
			u.cur, u.reason = u.min, Reason{Code: CodeMinimum, Power: share, Amps: u.min}
		case phaseDownWanted(u, share):
			u.mem.StopSince = time.Time{}
			phaseDown(u, share, now)
		case u.mustRun:
			u.mem.StopSince, u.mem.DownSince = time.Time{}, time.Time{}
			u.cur, u.reason = u.min, Reason{Code: CodeMinimum, Power: share, Amps: u.min}
		default:
			u.mem.DownSince = time.Time{}
			stopOrHold(u, share, minP, now)
		}
		applyPlan(u, now)
		return leftover
	}
	u.mem.StopSince, u.mem.DownSince = time.Time{}, time.Time{}
	u.cur = clamp(share/(float64(u.drawPh)*u.v), u.min, u.max)
	u.reason = Reason{Code: CodeCharging, Power: share}
	if u.cur >= u.max {
		u.reason.Power += leftover // at its maximum: show what it could have had
	}
	if u.mustRun && share < minP {
		u.reason = Reason{Code: CodeMinimum, Power: share, Amps: u.min}
	}
	leftover = phaseUp(u, share, leftover, now)
	applyPlan(u, now)
	return leftover
}

// stopOrHold runs the stop timer and the minimum on time; meanwhile the
// charger holds its minimum, drawing the shortfall from the grid.
func stopOrHold(u *unit, share, minP float64, now time.Time) {
	stop := timer(&u.mem.StopSince, now, u.cfg.StopDelay)
	on := onLeft(u, now)
	switch {
	case stop <= 0 && on <= 0:
		u.on, u.cur = false, 0
		u.mem.StopSince = time.Time{}
		u.reason = Reason{Code: CodeStopped, Power: share, Need: minP}
	case stop <= 0:
		u.cur = u.min
		u.reason = Reason{Code: CodeMinOn, Wait: on, Power: share}
	default:
		u.cur = u.min
		u.reason = Reason{Code: CodeStopDelay, Wait: stop, Power: share, Need: minP}
	}
}

// timer runs a condition timer: since is set when the condition is first
// seen; the result is the time left until delay has passed.
func timer(since *time.Time, now time.Time, delay time.Duration) time.Duration {
	if since.IsZero() {
		*since = now
	}
	return delay - now.Sub(*since)
}

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		return lo
	}
	return math.Max(lo, math.Min(v, hi))
}
