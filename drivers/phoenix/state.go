package phoenix

import (
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// reading is one poll's input block, decoded. A register that is absent
// or holds an implausible value leaves its field unset.
type reading struct {
	pilot     byte // 'A'..'F', 0 unknown
	errCode   int  // -1 unknown
	amps      []float64
	milliamps bool // the current registers held mA
	volts     []float64
	power     float64
	powerOK   bool
	energyWh  float64
	energyOK  bool
	sessionWh float64
	sessionOK bool
	firmware  string
}

// Plausibility limits: a register beyond them is treated as unreadable.
const (
	maxAmps  = 80.0    // A per phase
	maxVolts = 500.0   // V phase to neutral
	maxWatts = 60000.0 // W, far above 3 × 32 A × 230 V
)

// errorTexts are the error codes of register 107.
var errorTexts = map[int]string{
	1: "cable rejected (13 A or 20 A)", 2: "cable rejected (13 A)", 3: "invalid PP value",
	4: "invalid CP value", 5: "charging unavailable", 6: "locking", 7: "unlocking",
	8: "error during locking", 9: "overload protection", 10: "energy meter communication error",
	11: "vehicle rejected", 12: "contactor fault", 13: "vehicle CP diode missing",
	14: "unknown error", 15: "DC residual current",
}

func inVal(addr uint16, t modbusx.Type) modbusx.Value {
	return modbusx.At(addr, t).In(modbusx.Input).LowFirst()
}

func decodeStatus(b *modbusx.Block, wallbe bool) reading {
	r := reading{errCode: -1}
	if v, err := b.Uint(inVal(regStatus, modbusx.Uint16)); err == nil {
		if c := byte(v); c >= 'A' && c <= 'F' {
			r.pilot = c
		}
	}
	if v, err := b.Uint(inVal(regError, modbusx.Uint16)); err == nil && v <= 0xff {
		r.errCode = int(v)
	}
	r.volts, _ = phases(b, regVoltageL1, maxVolts, false)
	r.amps, r.milliamps = phases(b, regCurrentL1, maxAmps, true)
	if p, err := b.Int(inVal(regPower, modbusx.Int32)); err == nil && p >= 0 && float64(p) <= maxWatts {
		r.power, r.powerOK = float64(p), true
	}
	if e, err := b.Uint(inVal(regEnergy, modbusx.Uint32)); err == nil && e != 0xffffffff {
		r.energyWh, r.energyOK = float64(e), true
	}
	if e, err := b.Uint(inVal(regSessionWh, modbusx.Uint32)); err == nil && e != 0xffffffff {
		r.sessionWh, r.sessionOK = float64(e), true
	}
	r.firmware, _ = b.String(modbusx.Text(regFirmware, 2).In(modbusx.Input).Swapped())
	if wallbe {
		if fw, _ := b.String(modbusx.Text(regWallbeFW, 6).In(modbusx.Input).Swapped()); fw != "" {
			r.firmware = fw
		}
	}
	return r
}

// phases reads three S32 two registers apart: all three or none. For the
// currents (milli set) a value above milliampsAbove means the firmware
// counts mA, as one compatible register table says, rather than A, as
// other drivers read it: 6 A and more in mA is far above any current in A.
func phases(b *modbusx.Block, addr uint16, limit float64, milli bool) ([]float64, bool) {
	var raw [3]int64
	inMilli := false
	for i := range raw {
		v, err := b.Int(inVal(addr+2*uint16(i), modbusx.Int32))
		if err != nil || v < 0 {
			return nil, false
		}
		raw[i] = v
		inMilli = inMilli || milli && v > milliampsAbove
	}
	out := make([]float64, 3)
	for i, v := range raw {
		out[i] = float64(v)
		if inMilli {
			out[i] /= 1000
		}
		if out[i] > limit {
			return nil, false
		}
	}
	return out, inMilli
}

// state is the model's view of the input block alone; the driver adds
// enable coil, setpoint and identity.
func (r reading) state() charger.State {
	st := charger.State{}
	switch r.pilot {
	case 'A':
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
	case 'B':
		st.IEC, st.Status = charger.IECB, charger.StatusConnected
	case 'C':
		st.IEC, st.Status = charger.IECC, charger.StatusCharging
	case 'D':
		st.IEC, st.Status = charger.IECD, charger.StatusCharging
	case 'E':
		st.IEC, st.Status = charger.IECE, charger.StatusError
	case 'F':
		st.IEC, st.Status = charger.IECF, charger.StatusError
	default:
		st.IEC, st.Status = charger.IECUnknown, charger.StatusUnknown
	}
	switch {
	case r.errCode > 0:
		st.ErrorCode = fmt.Sprintf("error %d", r.errCode)
		st.ErrorText = errorTexts[r.errCode]
		if st.ErrorText == "" {
			st.ErrorText = fmt.Sprintf("undocumented error code %d", r.errCode)
		}
	case r.pilot == 'E' || r.pilot == 'F':
		st.ErrorCode, st.ErrorText = string(r.pilot), fmt.Sprintf("control pilot state %c", r.pilot)
	case r.pilot == 0:
		st.ErrorCode, st.ErrorText = "status", "status register unreadable or not a pilot state"
	}
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	st.Currents, st.Voltages = r.amps, r.volts
	if n := r.activePhases(); n > 0 {
		st.Phases = charger.Ptr(n)
	}
	if r.energyOK {
		st.EnergyTotal = charger.Ptr(r.energyWh / 1000)
	}
	if r.sessionOK {
		st.SessionEnergy = charger.Ptr(r.sessionWh / 1000)
	}
	return st
}

// activePhases counts the phases drawing at least 1 A while charging: the
// controller switches no phases.
func (r reading) activePhases() int {
	if (r.pilot != 'C' && r.pilot != 'D') || len(r.amps) != 3 {
		return 0
	}
	n := 0
	for _, a := range r.amps {
		if a >= 1 {
			n++
		}
	}
	if n == 2 {
		return 0
	}
	return n
}
