package abl

import (
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// reading is one poll of a connector, decoded.
type reading struct {
	code             uint8
	amps, volts      []float64
	power, kWh       float64
	powerOK, kWhOK   bool
	setpoint         uint16 // 0.1 A
	stateOK, setOK   bool
	upstreamTimedOut bool
}

func decode(b *modbusx.Block, off uint16) reading {
	var r reading
	f := func(v modbusx.Value, limit float64) (float64, bool) {
		x, err := b.Float(v)
		return x, err == nil && x <= limit
	}
	for i := uint16(0); i < 3; i++ {
		if a, ok := f(modbusx.At(regCurrentL1+off+2*i, modbusx.Uint32).Scaled(-1, 0), 100); ok {
			r.amps = append(r.amps, a)
		}
		if v, ok := f(modbusx.At(regVoltageL1+off+2*i, modbusx.Uint32).Scaled(-1, 0), 500); ok {
			r.volts = append(r.volts, v)
		}
	}
	if len(r.amps) < 3 {
		r.amps = nil
	}
	if len(r.volts) < 3 {
		r.volts = nil
	}
	r.power, r.powerOK = f(modbusx.At(regPower+off, modbusx.Uint32), 100000)
	r.kWh, r.kWhOK = f(modbusx.At(regEnergy+off, modbusx.Uint32).Scaled(-2, 0), 1e7)
	if s, err := b.Uint(modbusx.At(regState+off, modbusx.Uint16)); err == nil {
		r.code, r.stateOK = uint8(s), true
	}
	if m, err := b.Uint(modbusx.At(regMaxCurrent+off, modbusx.Uint16)); err == nil {
		r.setpoint, r.setOK = uint16(m), true
	}
	r.upstreamTimedOut = r.code == 0xF4
	return r
}

// stateOf maps ABL's state byte (ABL §3.4: the high nibble is the letter,
// A=0xA..F=0xF, the low nibble the index). B1: car connected, no charging
// permission; B2: permission, not drawing; C2..C4 charging (C3/C4 with a
// reduced current); E0 outlet disabled, E1..E3 production test, setup and
// bus idle; F1..F11 errors (F4: upstream communication timeout).
func stateOf(s uint8) (charger.IECState, charger.Status, string) {
	name := fmt.Sprintf("%c%d", 'A'+rune(s>>4)-0xA, s&0xF)
	switch s >> 4 {
	case 0xA:
		return charger.IECA, charger.StatusNoVehicle, name
	case 0xB:
		return charger.IECB, charger.StatusConnected, name
	case 0xC:
		return charger.IECC, charger.StatusCharging, name
	case 0xE:
		return charger.IECUnknown, charger.StatusUnavailable, name
	case 0xF:
		return charger.IECF, charger.StatusError, name
	}
	return charger.IECUnknown, charger.StatusUnknown, fmt.Sprintf("0x%02X", s)
}

var errorText = map[uint8]string{
	0xE0: "outlet disabled", 0xE1: "production test", 0xE2: "setup mode", 0xE3: "bus idle",
	0xF1: "welding detected", 0xF2: "internal error", 0xF3: "DC residual current", 0xF4: "upstream communication timeout",
	0xF5: "lock failed", 0xF6: "cable coding out of range", 0xF7: "state D requested", 0xF8: "CP out of range",
	0xF9: "overcurrent", 0xFA: "temperature", 0xFB: "unintended opened contact",
}

func (r reading) state() charger.State {
	var st charger.State
	if !r.stateOK {
		return st
	}
	var name string
	st.IEC, st.Status, name = stateOf(r.code)
	switch {
	case st.Status == charger.StatusUnknown:
		st.ErrorCode, st.ErrorText = "state", "unknown state "+name
	case st.Status == charger.StatusError || st.Status == charger.StatusUnavailable:
		st.ErrorCode, st.ErrorText = name, errorText[r.code]
	case r.code == 0xC3 || r.code == 0xC4:
		st.ErrorCode, st.ErrorText = name, "charging with a reduced current"
	}
	if r.setOK {
		st.CurrentLimit = charger.Ptr(float64(r.setpoint) / 10)
		st.Enabled = charger.Ptr(r.setpoint > 0)
		if st.Status == charger.StatusConnected && r.setpoint == 0 {
			st.Status = charger.StatusPaused
		}
	}
	st.Currents, st.Voltages = r.amps, r.volts
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	if r.kWhOK {
		st.EnergyTotal = charger.Ptr(r.kWh)
	}
	if st.Status == charger.StatusCharging && len(r.amps) == 3 {
		n := 0
		for _, a := range r.amps {
			if a >= 1 {
				n++
			}
		}
		if n == 1 || n == 3 {
			st.Phases = charger.Ptr(n)
		}
	}
	return st
}
