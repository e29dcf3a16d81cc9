package vestel

import (
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Register addresses are the wire (PDU) addresses of the EVC04 Modbus
// TCP/IP Specification (cited as SPEC). Numbers are big-endian, high word
// first. Strings hold one ASCII character per register, in its low byte.

// Input registers (FC4): identity and installation.
const (
	regSerial      = 100 // 25 registers: serial number
	regChargePoint = 130 // 50 registers: charge point id
	regBrand       = 190 // 10 registers
	regModel       = 210 // 5 registers
	regFirmware    = 230 // 50 registers
	regDate        = 290 // U32: yymmdd
	regTime        = 294 // U32: hhmmss
	identEnd       = 296
	regMaxPower    = 400 // U32, W: charge point power
	regPhaseCount  = 404 // U16: installation, 0 one phase, 1 three phases
	installEnd     = 405
)

// Input registers (FC4): status and meter.
const (
	regCPState   = 1000 // U16: OCPP-like charge point state, see cpState
	regCharging  = 1001 // U16: 0 not charging, 1 charging
	regEquipment = 1002 // U16: equipment state
	regCable     = 1004 // U16: 0 none, 1 cable only, 2 cable and vehicle, 3 and locked
	regFault     = 1006 // U32: EVSE fault code, 0 none (SPEC v1.3)
	regCurrentL1 = 1008 // U16 at 1008, 1010, 1012, mA
	regVoltageL1 = 1014 // U16 at 1014, 1016, 1018, V
	regPower     = 1020 // U32, W: active power total
	regPowerL1   = 1024 // U32 at 1024, 1028, 1032, W
	regMeter     = 1036 // U32, 0.1 kWh: meter reading
	statusEnd    = 1038
	regSessMax   = 1100 // U16, A: session max current
	regEVSEMin   = 1102 // U16, A
	regEVSEMax   = 1104 // U16, A
	regCableMax  = 1106 // U16, A
	limitsEnd    = 1107
	regSessionWh = 1502 // U32, Wh: session energy
	regSessStart = 1504 // U32: hhmmss
	regSessTime  = 1508 // U32, s: session duration
	regSessEnd   = 1512 // U32: hhmmss
	regRFID      = 1516 // 15 registers (fw ≥ 3.156.0)
	sessionEnd   = 1531
)

// Holding registers (FC3 read, FC6/FC16 write): control.
const (
	regPhaseSwitch     = 405  // U16 R/W: 0 one phase, 1 three phases (fw ≥ 3.187.0, SPEC v1.11)
	regFailsafeCurrent = 2000 // U16, A R/W: current while the alive register is not kept
	regFailsafeTimeout = 2002 // U16, s R/W
	regChargingCurrent = 5004 // U16, A R/W: dynamic charging current, 0 stops
	regAlive           = 6000 // U16 R/W: the EMS writes 1, the station resets it to 0
)

const (
	defaultPort     = 502
	defaultUnit     = 255
	minCurrent      = 6.0  // A, IEC 61851 lowest pilot current
	maxCurrent      = 32.0 // A, the EVC04's highest rating
	defaultFailsafe = 20   // s, SPEC's default failsafe timeout
)

func in(v modbusx.Value) modbusx.Value { return v.In(modbusx.Input) }

// statusValues are read from the input table on every poll.
func statusValues() []modbusx.Value {
	vs := []modbusx.Value{
		in(modbusx.At(regCPState, modbusx.Uint16)),
		in(modbusx.At(regCharging, modbusx.Uint16)),
		in(modbusx.At(regCable, modbusx.Uint16)),
		in(modbusx.At(regFault, modbusx.Uint32)),
		in(modbusx.At(regPower, modbusx.Uint32)),
		in(modbusx.At(regMeter, modbusx.Uint32)),
		in(modbusx.At(regSessionWh, modbusx.Uint32)),
	}
	for i := uint16(0); i < 3; i++ {
		vs = append(vs, in(modbusx.At(regCurrentL1+2*i, modbusx.Uint16)), in(modbusx.At(regVoltageL1+2*i, modbusx.Uint16)))
	}
	return vs
}

// identityValues are the strings of the identity block: one read of
// 100..214 (serial, charge point id, brand, model) and one of the firmware.
func identityValues() []modbusx.Value {
	return []modbusx.Value{
		in(modbusx.Text(regSerial, 25)), in(modbusx.Text(regChargePoint, 50)),
		in(modbusx.Text(regBrand, 10)), in(modbusx.Text(regModel, 5)),
		in(modbusx.Text(regFirmware, 50)),
	}
}

// planConfig reads inside the documented blocks only (the simulator, like
// a strict device, refuses reads that leave one), bridging the reserved
// registers within a block.
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 20}
	for _, b := range []struct {
		t          modbusx.Table
		start, end uint16
	}{
		{modbusx.Input, regSerial, identEnd}, {modbusx.Input, regMaxPower, installEnd},
		{modbusx.Input, regCPState, statusEnd}, {modbusx.Input, regSessMax, limitsEnd},
		{modbusx.Input, 1500, sessionEnd},
	} {
		c.Boundaries = append(c.Boundaries, modbusx.Illegal(b.t, b.start, b.end-b.start)...)
	}
	return c
}
