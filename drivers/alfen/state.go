package alfen

import (
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// reading is one poll of a socket unit, decoded. NaN registers (ALF §1.2:
// reserved or unavailable) leave their field unset.
type reading struct {
	meterState             uint16
	volts, amps            []float64
	power                  float64
	powerOK                bool
	energyWh               float64
	energyOK               bool
	available, availKnown  bool
	mode3                  string
	applied, setpoint      float64
	appliedOK, setpointOK  bool
	validLeft              uint32
	accounted, phasesKnown bool
	phases                 int
}

func decodeSocket(b *modbusx.Block) reading {
	f32 := func(addr uint16) (float64, bool) {
		v, err := b.Float(modbusx.At(addr, modbusx.Float32))
		return v, err == nil
	}
	u16 := func(addr uint16) (uint16, bool) {
		v, err := b.Uint(modbusx.At(addr, modbusx.Uint16))
		return uint16(v), err == nil && v != 0xffff
	}
	var r reading
	if ms, ok := u16(regMeterState); ok {
		r.meterState = ms
	}
	r.volts = phaseValues(f32, regVoltageL1)
	r.amps = phaseValues(f32, regCurrentL1)
	r.power, r.powerOK = f32(regPowerSum)
	e, err := b.Float(modbusx.At(regEnergySum, modbusx.Float64))
	r.energyWh, r.energyOK = e, err == nil && e >= 0
	var av uint16
	av, r.availKnown = u16(regAvailability)
	r.available = av == 1
	r.mode3, _ = b.String(modbusx.Text(regMode3, 5))
	r.applied, r.appliedOK = f32(regApplied)
	r.setpoint, r.setpointOK = f32(regSetpoint)
	if v, err := b.Uint(modbusx.At(regValidLeft, modbusx.Uint32)); err == nil && v != 0xffffffff {
		r.validLeft = uint32(v)
	}
	acc, _ := u16(regAccounted)
	r.accounted = acc == 1
	ph, ok := u16(regPhases)
	r.phases, r.phasesKnown = int(ph), ok && (ph == 1 || ph == 3)
	return r
}

// phaseValues returns L1..L3 from three FLOAT32 at addr, cut at the first
// unavailable one (a single-phase meter may report NaN for L2 and L3).
func phaseValues(f32 func(uint16) (float64, bool), addr uint16) []float64 {
	var out []float64
	for i := uint16(0); i < 3; i++ {
		v, ok := f32(addr + 2*i)
		if !ok {
			break
		}
		out = append(out, v)
	}
	return out
}

// setpointValid: the station holds a Modbus setpoint and uses it.
func (r reading) setpointValid() bool {
	return r.setpointOK && r.validLeft > 0 && r.accounted
}

func (r reading) plugged() bool {
	iec, _ := mode3State(r.mode3)
	return iec != charger.IECUnknown && iec != charger.IECA && iec != charger.IECE
}

// mode3State maps the Mode 3 state string (ALF §3.4.1) to the pilot state
// and the user-facing status. C1/D1 have the car asking for power with no
// PWM offered, so charging is paused; E is listed with no vehicle and
// only F as an error.
func mode3State(s string) (charger.IECState, charger.Status) {
	switch s {
	case "A":
		return charger.IECA, charger.StatusNoVehicle
	case "B1", "B2":
		return charger.IECB, charger.StatusConnected
	case "C1":
		return charger.IECC, charger.StatusPaused
	case "D1":
		return charger.IECD, charger.StatusPaused
	case "C2":
		return charger.IECC, charger.StatusCharging
	case "D2":
		return charger.IECD, charger.StatusCharging
	case "E":
		return charger.IECE, charger.StatusNoVehicle
	case "F":
		return charger.IECF, charger.StatusError
	}
	return charger.IECUnknown, charger.StatusUnknown
}

// state is the model's view of a reading.
func (r reading) state() charger.State {
	var st charger.State
	st.IEC, st.Status = mode3State(r.mode3)
	// Enabled: the Modbus setpoint while it is valid and used, else what
	// the station applies (the safe current, or its own limits).
	switch {
	case r.setpointValid():
		st.Enabled = charger.Ptr(r.setpoint >= minCurrent)
	case r.appliedOK:
		st.Enabled = charger.Ptr(r.applied >= minCurrent)
	}
	if st.Status == charger.StatusConnected && st.Enabled != nil && !*st.Enabled {
		st.Status = charger.StatusPaused
	}
	switch {
	case r.mode3 == "F":
		st.ErrorCode, st.ErrorText = "F", "EVSE fault (mode 3 state F)"
	case r.availKnown && !r.available:
		st.Status = charger.StatusUnavailable
		st.ErrorCode, st.ErrorText = "inoperative", "socket is inoperative"
	case r.meterState&meterBitError != 0:
		st.ErrorCode, st.ErrorText = "meter", "energy meter reports an error"
	case st.IEC == charger.IECUnknown && r.mode3 != "":
		st.ErrorCode, st.ErrorText = "mode3", fmt.Sprintf("unknown mode 3 state %q", r.mode3)
	}
	if r.appliedOK {
		st.CurrentLimit = charger.Ptr(r.applied)
	}
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	st.Currents, st.Voltages = r.amps, r.volts
	if r.phasesKnown {
		st.Phases = charger.Ptr(r.phases)
	}
	if r.energyOK {
		st.EnergyTotal = charger.Ptr(r.energyWh / 1000)
	}
	return st
}

// decodeIdentity reads the product identification block (ALF §3.1). The
// sockets of an Eve Double share the station serial, so socket 2 gets a
// "-2" suffix to stay a distinct charger.
func decodeIdentity(b *modbusx.Block, socket int) charger.Identity {
	str := func(v modbusx.Value) string { s, _ := b.String(v); return s }
	id := charger.Identity{
		Brand:    "Alfen",
		Model:    str(modbusx.Text(regPlatform, 17)),
		Serial:   str(modbusx.Text(regSerial, 11)),
		Firmware: str(modbusx.Text(regFirmware, 17)),
	}
	if id.Serial != "" && socket == 2 {
		id.Serial += "-2"
	}
	return id
}
