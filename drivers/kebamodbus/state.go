package kebamodbus

import (
	"fmt"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Charging states (KEBA §3.1).
const (
	stateStartup     = 0
	stateNotReady    = 1 // unplugged, disabled, or waiting for authorization
	stateReady       = 2 // waiting for the car
	stateCharging    = 3
	stateError       = 4
	stateInterrupted = 5 // temperature or another voter paused charging
)

// reading is what the driver knows of the registers; a register never
// read is absent, and its field stays unset.
type reading struct {
	vals map[uint16]uint32
	kWh  float64
}

// get returns a register's value; 0xFFFFFFFF counts as not available.
func (r reading) get(a uint16) (uint32, bool) {
	v, ok := r.vals[a]
	return v, ok && v != 0xffffffff
}

// p40 tells a P40 (7 digits starting with 4) from a P30 (6 digits
// starting with 3) by the product code (notes §9b).
func (r reading) p40() bool {
	p, ok := r.get(regProduct)
	return ok && p >= 4000000 && p < 5000000
}

func (r reading) energy() (float64, bool) {
	e, ok := r.get(regEnergy)
	return float64(e) * r.kWh, ok
}

// iecStatus maps charging and cable state to pilot state and status.
// Cable 5 and 7 mean plugged at the car (bit 2).
func iecStatus(state uint32, cable uint32, cableKnown bool) (charger.IECState, charger.Status) {
	switch {
	case state == stateError:
		return charger.IECF, charger.StatusError
	case state == stateStartup || state > stateInterrupted:
		return charger.IECUnknown, charger.StatusUnknown
	case state == stateCharging:
		return charger.IECC, charger.StatusCharging
	case !cableKnown:
		if state == stateReady {
			return charger.IECB, charger.StatusConnected
		}
		return charger.IECUnknown, charger.StatusUnknown
	case cable&4 == 0:
		return charger.IECA, charger.StatusNoVehicle
	case state == stateReady:
		return charger.IECB, charger.StatusConnected
	}
	return charger.IECB, charger.StatusPaused // not ready or interrupted, car plugged
}

func (r reading) state() charger.State {
	var st charger.State
	state, ok := r.get(regState)
	if !ok {
		return st
	}
	cable, cableKnown := r.get(regCable)
	st.IEC, st.Status = iecStatus(state, cable, cableKnown)
	switch {
	case state == stateError:
		st.ErrorCode, st.ErrorText = "error", "station reports an error"
		if code, ok := r.get(regError); ok {
			st.ErrorCode = fmt.Sprintf("0x%X", code)
		}
	case state > stateInterrupted:
		st.ErrorCode, st.ErrorText = "state", fmt.Sprintf("unknown charging state %d", state)
	}
	if p, ok := r.get(regPower); ok {
		st.Power = charger.Ptr(float64(p) / 1000)
	}
	if m, ok := r.get(regMaxCurrent); ok {
		st.CurrentLimit = charger.Ptr(float64(m) / 1000)
		st.Enabled = charger.Ptr(m > 0)
		if st.Status == charger.StatusConnected && m == 0 {
			st.Status = charger.StatusPaused
		}
	}
	st.Currents = r.triple(regCurrentL1, 0.001)
	st.Voltages = r.triple(regVoltageL1, 1)
	if e, ok := r.energy(); ok {
		st.EnergyTotal = charger.Ptr(e)
	}
	if ph, ok := r.phases(); ok {
		st.Phases = charger.Ptr(ph)
	}
	st.Identity = r.identity()
	return st
}

// triple returns L1..L3 at addr, addr+2, addr+4 once all three are read.
func (r reading) triple(addr uint16, scale float64) []float64 {
	var out []float64
	for i := uint16(0); i < 3; i++ {
		v, ok := r.get(addr + 2*i)
		if !ok {
			return nil
		}
		out = append(out, float64(v)*scale)
	}
	return out
}

// phases decodes 1552: a P30 reads 0 for one phase and 1 for three, a
// P40 reads 1 and 3 (notes §9b).
func (r reading) phases() (int, bool) {
	v, ok := r.get(regPhaseState)
	if !ok {
		return 0, false
	}
	switch {
	case r.p40() && (v == 1 || v == 3):
		return int(v), true
	case !r.p40() && v == 0:
		return 1, true
	case !r.p40() && v == 1:
		return 3, true
	}
	return 0, false
}

func (r reading) identity() charger.Identity {
	id := charger.Identity{Brand: "KEBA"}
	if s, ok := r.get(regSerial); ok && s != 0 {
		id.Serial = strconv.FormatUint(uint64(s), 10)
	}
	if p, ok := r.get(regProduct); ok {
		id.Model = model(p)
	}
	if f, ok := r.get(regFirmware); ok && f != 0 {
		id.Firmware = firmware(f, r.p40())
	}
	return id
}

// model names the product code (KEBA §3.8): first digit 3 = P30,
// 4 = P40, followed by the feature digits.
func model(p uint32) string {
	switch {
	case p >= 300000 && p < 400000:
		return fmt.Sprintf("KeContact P30 (%d)", p)
	case p >= 4000000 && p < 5000000:
		return fmt.Sprintf("KeContact P40 (%d)", p)
	}
	return fmt.Sprintf("KeContact (%d)", p)
}

// firmware decodes 1018: a P30 packs major, minor and patch into the
// high bytes (KEBA §3.9: 0x030A0D00; its "3.10.14" misreads 0x0D); a P40 counts
// in decimal (10201 is 1.2.1, notes §9b).
func firmware(f uint32, p40 bool) string {
	if p40 {
		return fmt.Sprintf("%d.%d.%d", f/10000, f/100%100, f%100)
	}
	return fmt.Sprintf("%d.%d.%d", f>>24, f>>16&0xff, f>>8&0xff)
}
