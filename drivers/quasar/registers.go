package quasar

import (
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Register addresses are the wire (PDU) addresses of the Quasar 1 map
// (cited as MAP, see the package doc). Every register is a holding
// register, read with FC3 and written with FC6, one 16-bit word each.

// Identity, read-only.
const (
	regFirmware = 1 // U16: firmware version
	regSerialHi = 2 // U16: serial number, high word
	regSerialLo = 3 // U16: serial number, low word
	identityEnd = 4
)

// Control, read/write. Every write but the one to 81 needs remote
// control first.
const (
	regControl     = 81 // U16: 0 user (app), 1 remote (Modbus)
	regAutostart   = 82 // U16: 1 start on connect, 0 wait for a start
	regSetpointTyp = 83 // U16: 0 current (258), 1 power (260)
	controlEnd     = 84
	regIdleTimeout = 88 // U16, s: idle after this long without Modbus traffic
	regLock        = 256
	regAction      = 257 // U16: 1 start, 2 stop (dis)charging
	regCurrent     = 258 // S16, A: negative discharges
	actionEnd      = 259
	regPower       = 260 // S16, W: negative discharges; never written by the driver
	regMaxPower    = 514 // S16, W: AC maximum the hardware is set to (1380..7400)
)

// Measurements, read-only. 527..536 are not in MAP; they are read
// across (see planConfig).
const (
	regActualPower = 526 // S16, W: negative while discharging
	regState       = 537 // U16: see state.go
	regSoC         = 538 // U16, %
	regError1      = 539 // U16 at 539..542: error registers
	errorRegs      = 4
	statusEnd      = regError1 + errorRegs
)

const (
	defaultPort        = 502
	defaultUnit        = 1
	defaultIdleTimeout = 30     // s, evbridge's choice; MAP gives none
	minCurrent         = 6.0    // A, 1380 W at 230 V: the lowest power MAP allows in 514
	maxCurrent         = 32.0   // A, 7400 W at 230 V: the Quasar 1's rating
	maxWatts           = 7400.0 // W, the highest value of 514
	controlUser        = 0
	controlRemote      = 1
	typeCurrent        = 0
	typePower          = 1
	actionStart        = 1
	actionStop         = 2
)

// statusValues are read on every poll, in one request: the actual power
// and the state block (526..542).
func statusValues() []modbusx.Value {
	vs := []modbusx.Value{
		modbusx.At(regActualPower, modbusx.Int16),
		modbusx.At(regState, modbusx.Uint16),
		modbusx.At(regSoC, modbusx.Uint16),
	}
	for i := uint16(0); i < errorRegs; i++ {
		vs = append(vs, modbusx.At(regError1+i, modbusx.Uint16))
	}
	return vs
}

// actionValues are read on every poll too: lock, action and current
// setpoint (256..258).
func actionValues() []modbusx.Value {
	return []modbusx.Value{
		modbusx.At(regLock, modbusx.Uint16),
		modbusx.At(regAction, modbusx.Uint16),
		modbusx.At(regCurrent, modbusx.Int16),
	}
}

// planConfig bridges the undocumented 527..536 (V2G Liberty reads
// 526..542 in one request) and never reads across any other hole: a
// boundary sits at both ends of every documented group.
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: regState - regActualPower - 1}
	for _, b := range [][2]uint16{{regFirmware, identityEnd}, {regControl, controlEnd},
		{regIdleTimeout, regIdleTimeout + 1}, {regLock, actionEnd}, {regPower, regPower + 1},
		{regMaxPower, regMaxPower + 1}, {regActualPower, statusEnd}} {
		c.Boundaries = append(c.Boundaries, modbusx.Illegal(modbusx.Holding, b[0], b[1]-b[0])...)
	}
	return c
}
