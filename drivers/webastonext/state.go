package webastonext

import (
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// reading is one poll's status registers, decoded. A register that is
// absent, reads all ones (unavailable) or holds an implausible value
// leaves its field unset rather than publishing garbage.
type reading struct {
	cpState, charging, evse, cable int // -1: unknown
	errCode                        uint16
	errOK                          bool
	amps                           []float64
	power                          float64
	powerOK                        bool
	meterWh                        float64
	meterOK                        bool
	sessionWh                      float64
	sessionOK                      bool
}

// Plausibility limits: a register beyond them is treated as unreadable.
const (
	maxAmps  = 80.0    // A per phase
	maxWatts = 60000.0 // W, far above 3 × 32 A × 230 V
)

func u16(b *modbusx.Block, addr uint16) (uint16, bool) {
	v, err := b.Uint(modbusx.At(addr, modbusx.Uint16))
	return uint16(v), err == nil && v != 0xffff
}

func u32(b *modbusx.Block, addr uint16) (uint32, bool) {
	v, err := b.Uint(modbusx.At(addr, modbusx.Uint32))
	return uint32(v), err == nil && v != 0xffffffff
}

func decodeStatus(b *modbusx.Block) reading {
	r := reading{}
	small := func(addr uint16, max uint16) int {
		if v, ok := u16(b, addr); ok && v <= max {
			return int(v)
		}
		return -1
	}
	r.cpState, r.charging, r.evse, r.cable = small(regCPState, 8), small(regCharging, 1), small(regEVSEState, 2), small(regCable, 3)
	r.errCode, r.errOK = u16(b, regErrorCode)
	for i := uint16(0); i < 3; i++ {
		v, ok := u16(b, regCurrentL1+2*i)
		if !ok || float64(v)/1000 > maxAmps {
			r.amps = nil
			break
		}
		r.amps = append(r.amps, float64(v)/1000)
	}
	if w, ok := u32(b, regPower); ok && float64(w) <= maxWatts {
		r.power, r.powerOK = float64(w), true
	}
	if m, ok := u32(b, regMeter); ok {
		r.meterWh, r.meterOK = float64(m), true
	}
	if e, ok := u16(b, regSessionWh); ok {
		r.sessionWh, r.sessionOK = float64(e), true
	}
	return r
}

// pilot derives the IEC state from cable and charge state; a charging
// error (state 7) is F.
func (r reading) pilot() charger.IECState {
	switch {
	case r.cpState == 7:
		return charger.IECF
	case r.cable < 0:
		return charger.IECUnknown
	case r.cable < 2:
		return charger.IECA
	case r.charging == 1:
		return charger.IECC
	}
	return charger.IECB
}

// status maps register 1000 (SPEC: 0 no vehicle, 1 vehicle attached
// without permission, 3 charging, 4 charging paused, 7 charging error,
// 8 charging station reserved; 2, 5 and 6 are not listed).
func (r reading) status() charger.Status {
	switch r.cpState {
	case 0:
		return charger.StatusNoVehicle
	case 1:
		return charger.StatusConnected
	case 3:
		return charger.StatusCharging
	case 4:
		return charger.StatusPaused
	case 7:
		return charger.StatusError
	case 8:
		return charger.StatusUnavailable
	}
	return charger.StatusFromIEC(r.pilot())
}

// state is the model's view of the status registers alone.
func (r reading) state() charger.State {
	st := charger.State{IEC: r.pilot(), Status: r.status()}
	switch {
	case r.errOK && r.errCode != 0:
		st.ErrorCode, st.ErrorText = fmt.Sprintf("error %d", r.errCode), fmt.Sprintf("EVSE error code %d", r.errCode)
	case r.evse == 2:
		st.Status = charger.StatusError
		st.ErrorCode, st.ErrorText = "evse", "EVSE state error"
	case r.cpState == 7:
		st.ErrorCode, st.ErrorText = "charging", "charging error"
	case r.cpState < 0 || r.cpState == 2 || r.cpState == 5 || r.cpState == 6:
		st.ErrorCode, st.ErrorText = "state", "charge point state unreadable or undocumented"
	}
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	st.Currents = r.amps
	if n := r.activePhases(); n > 0 {
		st.Phases = charger.Ptr(n)
	}
	if r.meterOK {
		st.EnergyTotal = charger.Ptr(r.meterWh / 1000)
	}
	if r.sessionOK {
		st.SessionEnergy = charger.Ptr(r.sessionWh / 1000)
	}
	return st
}

// activePhases counts the phases drawing at least 1 A while charging: the
// Next has no phase register.
func (r reading) activePhases() int {
	if r.charging != 1 || len(r.amps) != 3 {
		return 0
	}
	n := 0
	for _, a := range r.amps {
		if a >= 1 {
			n++
		}
	}
	if n == 2 {
		return 0 // not a configuration the Next has: leave it unknown
	}
	return n
}
