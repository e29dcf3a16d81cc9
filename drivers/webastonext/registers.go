package webastonext

import (
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Register addresses are the wire (PDU) addresses of Webasto's register
// list (cited as SPEC). All are holding registers, read with FC3;
// numbers are big-endian, two-register values high word first.

// Status and meter, read-only.
const (
	regCPState    = 1000 // U16: charge point state, see status()
	regCharging   = 1001 // U16: 0 idle, 1 charging
	regEVSEState  = 1002 // U16: 0 starting, 1 running, 2 error
	regCable      = 1004 // U16: 0 none, 1 cable only, 2 cable and car, 3 and locked
	regErrorCode  = 1006 // U16: EVSE error code, 0 none
	regCurrentL1  = 1008 // U16 at 1008, 1010, 1012, mA
	regPower      = 1020 // U32, W: total active power
	regPowerL1    = 1024 // U32 at 1024, 1028, 1032, W
	regMeter      = 1036 // U32, Wh: meter reading
	statusEnd     = 1038
	regMaxCurrent = 1100 // U16, A: lowest of EVSE, cable and EV maxima
	regMinCurrent = 1102 // U16, A
	regStationMax = 1104 // U16, A
	regCableMax   = 1106 // U16, A
	regEVMax      = 1108 // U16, A
	limitsEnd     = 1109
	regSessionWh  = 1502 // U16, Wh: energy of the session
	regChargeTime = 1508 // U32, s
	sessionEnd    = 1510
	regUserID     = 1600 // 10 registers: OCPP id tag
	regSmartEV    = 1620 // U16: smart vehicle detected
	userEnd       = 1621
)

// Control.
const (
	regSafeCurrent  = 2000 // U16, A R/W: current while the life bit is not kept
	regComTimeout   = 2002 // U16, s R/W
	configEnd       = 2003
	regChargePower  = 5000 // U32, W, write-only
	regChargeAmps   = 5004 // U16, A, write-only: 0 pauses
	regChargeAction = 5006 // U16, write-only: 1 start session, 2 cancel session
	regLifeBit      = 6000 // U16 R/W: the EMS writes 1, the station resets it to 0
)

const (
	defaultPort       = 502
	defaultUnit       = 255
	minCurrent        = 6.0  // A, IEC 61851 lowest pilot current
	maxCurrent        = 32.0 // A, the 22 kW Next
	defaultComTimeout = 20   // s, evbridge's default (SPEC gives none)
	actionStart       = 1
	actionCancel      = 2
)

// statusValues are read on every poll: the status block and the session
// energy, two requests.
func statusValues() []modbusx.Value {
	vs := []modbusx.Value{
		modbusx.At(regCPState, modbusx.Uint16),
		modbusx.At(regCharging, modbusx.Uint16),
		modbusx.At(regEVSEState, modbusx.Uint16),
		modbusx.At(regCable, modbusx.Uint16),
		modbusx.At(regErrorCode, modbusx.Uint16),
		modbusx.At(regPower, modbusx.Uint32),
		modbusx.At(regMeter, modbusx.Uint32),
		modbusx.At(regSessionWh, modbusx.Uint16),
	}
	for i := uint16(0); i < 3; i++ {
		vs = append(vs, modbusx.At(regCurrentL1+2*i, modbusx.Uint16))
	}
	return vs
}

// planConfig reads inside the documented blocks only, bridging the
// reserved registers within a block.
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 20}
	for _, b := range [][2]uint16{{regCPState, statusEnd}, {regMaxCurrent, limitsEnd}, {1500, sessionEnd},
		{regUserID, userEnd}, {regSafeCurrent, configEnd}} {
		c.Boundaries = append(c.Boundaries, modbusx.Illegal(modbusx.Holding, b[0], b[1]-b[0])...)
	}
	return c
}
