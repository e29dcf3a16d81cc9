package phoenix

import (
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Register addresses are wire (PDU) addresses. Two-register numbers are
// sent least significant word first; strings low byte first.

// Input registers (FC4).
const (
	regStatus       = 100 // U16: IEC 61851 state, ASCII letter 'A'..'F' in the low byte
	regChargeTime   = 102 // U32, s: charging time
	regDIP          = 104 // U16: DIP switches, bit n-1 = switch n
	regFirmware     = 105 // 2 registers: firmware version (Phoenix)
	regError        = 107 // U16: error code, see errorTexts
	regVoltageL1    = 108 // S32 at 108, 110, 112, V
	regCurrentL1    = 114 // S32 at 114, 116, 118, A (VERIFY: mA in a compatible table)
	regPower        = 120 // S32, W
	regEnergy       = 128 // U32, Wh
	regSessionWh    = 132 // U32, Wh: energy of the session
	inputEnd        = 149 // the block a Phoenix firmware answers
	regWallbeFW     = 149 // 6 registers: firmware of the wallbe extended firmware
	inputEndWallbe  = 155
	regActual       = 300 // U16, 0.1 A: current offered now
	regSerial       = 304 // 6 registers: serial number
	regName         = 310 // 5 registers: device name
	identEnd        = 315
	regMaxCurrent   = 528  // U16 R/W: max charging current, A (wallbe extended firmware: 0.1 A)
	regEnergyHold   = 904  // U32, Wh (wallbe: 16 bits)
	regEnergyWallbe = 2980 // U64, Wh (wallbe extended firmware)
)

// Coils (FC1 read, FC5 write).
const (
	coilEnable  = 400 // R/W: charging enabled
	coilRFID    = 419 // RFID reader enabled
	coilAllowed = 436 // RO: charging allowed
	coilPaused  = 468 // RO: charging paused
	coilEnd     = 469
)

const (
	defaultPort    = 502
	defaultUnit    = 255
	minCurrent     = 6.0  // A, IEC 61851 lowest pilot current
	maxCurrent     = 32.0 // A, the highest rating of the wallboxes built on it
	wallbeFromRaw  = 60   // 528 at or above this is in 0.1 A (6 A and up)
	milliampsAbove = 100  // a current register above this is in mA (VERIFY)
	defaultReapply = 30   // s
)

// statusValues are the input registers read on every poll.
func statusValues(wallbe bool) []modbusx.Value {
	in := func(v modbusx.Value) modbusx.Value { return v.In(modbusx.Input).LowFirst() }
	vs := []modbusx.Value{
		in(modbusx.At(regStatus, modbusx.Uint16)),
		in(modbusx.At(regChargeTime, modbusx.Uint32)),
		in(modbusx.Text(regFirmware, 2).Swapped()),
		in(modbusx.At(regError, modbusx.Uint16)),
		in(modbusx.At(regPower, modbusx.Int32)),
		in(modbusx.At(regEnergy, modbusx.Uint32)),
		in(modbusx.At(regSessionWh, modbusx.Uint32)),
	}
	for i := uint16(0); i < 3; i++ {
		vs = append(vs, in(modbusx.At(regVoltageL1+2*i, modbusx.Int32)), in(modbusx.At(regCurrentL1+2*i, modbusx.Int32)))
	}
	if wallbe {
		vs = append(vs, in(modbusx.Text(regWallbeFW, 6).Swapped()))
	}
	return vs
}

// planConfig reads inside the blocks each firmware answers.
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 20}
	c.Boundaries = append(c.Boundaries, modbusx.Illegal(modbusx.Input, regStatus, inputEndWallbe-regStatus)...)
	c.Boundaries = append(c.Boundaries, modbusx.Illegal(modbusx.Holding, regActual, identEnd-regActual)...)
	return c
}
