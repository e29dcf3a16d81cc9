package quasar

import (
	"fmt"
	"math"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// maxPlausibleWatts bounds register 526: a value beyond it (the Quasar 1
// moves at most 7.4 kW either way) is treated as unreadable.
const maxPlausibleWatts = 10000.0

// reading is one poll's registers, decoded. A register that is absent or
// holds an implausible value leaves its field unset rather than
// publishing garbage.
type reading struct {
	code    int // 537; -1 unknown
	power   float64
	powerOK bool
	soc     float64
	socOK   bool
	errs    [errorRegs]uint16
	errsOK  bool
	locked  int // 256; -1 unknown
	action  int // 257; -1 unknown
	current int // 258, A
	curOK   bool
}

// controlRegs are the control registers as last read (81, 83, 88); -1
// is unknown.
type controlRegs struct {
	mode, typ, idle int
}

func unknownControl() controlRegs { return controlRegs{-1, -1, -1} }

func u16(b *modbusx.Block, addr uint16) (uint16, bool) {
	v, err := b.Uint(modbusx.At(addr, modbusx.Uint16))
	return uint16(v), err == nil
}

func s16(b *modbusx.Block, addr uint16) (int, bool) {
	v, err := b.Int(modbusx.At(addr, modbusx.Int16))
	return int(v), err == nil
}

// small returns register addr if it is at most hi, else -1.
func small(b *modbusx.Block, addr, hi uint16) int {
	if v, ok := u16(b, addr); ok && v <= hi {
		return int(v)
	}
	return -1
}

func decodeStatus(b *modbusx.Block) reading {
	r := reading{code: small(b, regState, 11), locked: small(b, regLock, 1), action: small(b, regAction, actionStop)}
	if p, ok := s16(b, regActualPower); ok && math.Abs(float64(p)) <= maxPlausibleWatts {
		r.power, r.powerOK = float64(p), true
	}
	// 0 is what the charger shows without a car or while idle (V2G
	// Liberty ignores it): not a reading.
	if v, ok := u16(b, regSoC); ok && v >= 1 && v <= 100 {
		r.soc, r.socOK = float64(v), true
	}
	r.errsOK = true
	for i := range r.errs {
		v, ok := u16(b, regError1+uint16(i))
		r.errs[i], r.errsOK = v, r.errsOK && ok
	}
	if a, ok := s16(b, regCurrent); ok && math.Abs(float64(a)) <= maxCurrent {
		r.current, r.curOK = a, true
	}
	return r
}

func decodeControl(b *modbusx.Block, c controlRegs) controlRegs {
	c.mode, c.typ = small(b, regControl, controlRemote), small(b, regSetpointTyp, typePower)
	return c
}

// pilot maps register 537 to the IEC state: no car A, charging C, error F,
// every connected state B. Discharging (11) is B too: the car is
// plugged in and draws nothing.
func (r reading) pilot() charger.IECState {
	switch r.code {
	case 0, 6:
		return charger.IECA
	case 1:
		return charger.IECC
	case 2, 3, 4, 5, 8, 10, 11:
		return charger.IECB
	case 7, 9:
		return charger.IECF
	}
	return charger.IECUnknown
}

// status maps register 537 (MAP: 0 no car, 1 charging, 2 waiting for the
// car's demand, 3 waiting for a schedule, 4 paused, 5 end of schedule,
// 6 no car and locked, 7 error, 8 queued by power sharing, 9 power
// sharing unconfigured, 10 queued by power boost, 11 discharging).
func (r reading) status() charger.Status {
	switch r.code {
	case 0:
		if r.locked == 1 {
			return charger.StatusUnavailable
		}
		return charger.StatusNoVehicle
	case 1:
		return charger.StatusCharging
	case 2, 11:
		return charger.StatusConnected
	case 3, 4, 8, 10:
		return charger.StatusPaused
	case 5:
		return charger.StatusComplete
	case 6:
		return charger.StatusUnavailable
	case 7, 9:
		return charger.StatusError
	}
	return charger.StatusUnknown
}

// state is the model's view of the registers: status, power, errors, and
// what the charger offers as far as the control registers tell.
func (r reading) state(c controlRegs) charger.State {
	st := charger.State{IEC: r.pilot(), Status: r.status()}
	switch {
	case r.errsOK && r.errs != [errorRegs]uint16{}:
		st.ErrorCode = fmt.Sprintf("%04x-%04x-%04x-%04x", r.errs[0], r.errs[1], r.errs[2], r.errs[3])
		st.ErrorText = "error registers 539..542 set: " + st.ErrorCode
	case r.code == 7:
		st.ErrorCode, st.ErrorText = "error", "charger in error"
	case r.code == 9:
		st.ErrorCode, st.ErrorText = "power_sharing", "power sharing system not configured"
	case r.code < 0:
		st.ErrorCode, st.ErrorText = "state", "charger state (537) unreadable or undocumented"
	}
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	if c.mode != controlRemote || r.action < 0 {
		// User control: the app decides; unknown: claim nothing.
		return st
	}
	enabled := r.action == actionStart
	st.Enabled = charger.Ptr(enabled)
	switch {
	case !enabled:
		st.CurrentLimit = charger.Ptr(0.0)
		if st.Status == charger.StatusConnected {
			st.Status = charger.StatusPaused
		}
	case c.typ == typeCurrent && r.curOK:
		// A negative setpoint (another client discharging) offers nothing.
		st.CurrentLimit = charger.Ptr(float64(max(r.current, 0)))
	}
	return st
}
