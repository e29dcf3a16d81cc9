package solar

import "time"

// Phase switching 3↔1 for chargers that can do it (ChargerState
// CanSwitchPhases and wired for 3 phases).
//
// At 230 V and 6–16 A one phase covers 1.38–3.68 kW and three phases
// 4.14–11.04 kW. A charger therefore starts on 3 phases only when the
// surplus covers 3 × the minimum (plus StartThreshold), else on 1; while
// charging it goes down to 1 phase after PhaseDownDelay when the surplus no
// longer covers the 3-phase minimum but still covers the 1-phase one (that
// way it keeps charging instead of stopping), and up to 3 after
// PhaseUpDelay when it is at its 1-phase maximum and the surplus covers the
// 3-phase minimum plus StartThreshold. The gap between 3.68 and 4.14 kW is
// natural hysteresis. Switches under load are at least PhaseSwitchGap
// apart, because each one interrupts the charge and wears the contactors;
// choosing the phases of a charger that is not charging is free.

// startPhases picks the phases for a start with rem watts available.
func startPhases(u *unit, rem float64) int {
	if !u.canSwitch {
		return u.phases
	}
	if rem >= u.minPower(3)+u.cfg.StartThreshold {
		return 3
	}
	return 1
}

// switchPhases sets the phases, recording a switch under load.
func switchPhases(u *unit, p int, now time.Time) {
	if p == u.phases {
		return
	}
	if u.prevOn {
		u.mem.LastSwitch = now
	}
	u.phases, u.drawPh = p, p
}

// gapLeft is how long until another switch under load is allowed.
func gapLeft(u *unit, now time.Time) time.Duration {
	if u.mem.LastSwitch.IsZero() {
		return 0
	}
	return u.cfg.PhaseSwitchGap - now.Sub(u.mem.LastSwitch)
}

// phaseDownWanted: a 3-phase charge short of its minimum, where one phase
// would still run from the surplus (or where minpv would import less).
func phaseDownWanted(u *unit, share float64) bool {
	if !u.canSwitch || u.phases != 3 || u.drawPh != 3 {
		return false
	}
	return u.mustRun || share >= u.minPower(1)-u.cfg.StopThreshold
}

// phaseDown runs the 3→1 timer, holding the 3-phase minimum meanwhile.
func phaseDown(u *unit, share float64, now time.Time) {
	left := max(timer(&u.mem.DownSince, now, u.cfg.PhaseDownDelay), gapLeft(u, now))
	if left <= 0 {
		switchPhases(u, 1, now)
		u.mem.DownSince = time.Time{}
		u.cur = clamp(share/u.v, u.min, u.max)
		u.reason = Reason{Code: CodePhaseSwitch, Power: share}
		return
	}
	u.cur = u.min
	u.reason = Reason{Code: CodePhaseDelay, Phases: 1, Wait: left, Power: share, Amps: u.min}
}

// phaseUp runs the 1→3 timer for a charger at its 1-phase maximum when the
// surplus it could take (its share plus the leftover) covers 3 phases. It
// claims the leftover while the timer runs, so only one charger at a time
// switches up on it.
func phaseUp(u *unit, share, leftover float64, now time.Time) float64 {
	want := share + leftover
	if !u.canSwitch || u.phases != 1 || u.drawPh != 1 || share < u.maxPower(1)-1 ||
		want < u.minPower(3)+u.cfg.StartThreshold {
		u.mem.UpSince = time.Time{}
		return leftover
	}
	left := max(timer(&u.mem.UpSince, now, u.cfg.PhaseUpDelay), gapLeft(u, now))
	if left <= 0 {
		switchPhases(u, 3, now)
		u.mem.UpSince = time.Time{}
		u.cur = clamp(want/(3*u.v), u.min, u.max)
		u.reason = Reason{Code: CodePhaseSwitch, Power: want}
		return 0
	}
	u.reason = Reason{Code: CodePhaseDelay, Phases: 3, Wait: left, Power: want, Amps: u.cur}
	return 0
}
