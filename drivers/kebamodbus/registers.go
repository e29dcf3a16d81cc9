package kebamodbus

import "github.com/evbridge/evbridge/drivers/modbusx"

// Read registers (KEBA §3): holding registers, FC3, each an UINT32 high
// word first, and read one value per request.
const (
	regState           = 1000 // charging state 0..5
	regCable           = 1004 // cable state 0, 1, 3, 5, 7
	regError           = 1006 // EVSE error code (hex-coded groups)
	regCurrentL1       = 1008 // mA; L2 1010, L3 1012
	regSerial          = 1014 // serial number
	regProduct         = 1016 // product type and features, decimal digits
	regFirmware        = 1018 // firmware version
	regPower           = 1020 // mW
	regEnergy          = 1036 // lifetime energy, Wh (see energy_unit)
	regVoltageL1       = 1040 // V; L2 1042, L3 1044
	regPowerFactor     = 1046 // 0.1 %
	regMaxCurrent      = 1100 // mA offered to the car
	regRFID            = 1500 // last RFID card
	regSessionEnergy   = 1502 // energy of the session, same unit as 1036
	regPhaseSource     = 1550 // phase switch source
	regPhaseState      = 1552 // phase switch state
	regFailsafeCurrent = 1600 // mA
	regFailsafeTimeout = 1602 // s
)

// Write registers (KEBA §4): UINT16, FC6 only.
const (
	regSetCurrent      = 5004 // mA, 6000..63000
	regSetEnergy       = 5010 // 10 Wh
	regUnlock          = 5012 // unlock the plug
	regEnable          = 5014 // 0 disable, 1 enable
	regSetFailCurrent  = 5016 // mA, 0 or 6000..63000
	regSetFailTimeout  = 5018 // s, 0 or 10..600
	regSetFailPersist  = 5020 // 0 or 1
	regSetPhaseSource  = 5050 // 3 = phase switching by Modbus
	regSetPhases       = 5052 // 0 = 1 phase, 1 = 3 phases
	phaseSourceModbus  = 3
	unitDefault        = 255
	defaultPort        = 502
	minCurrent         = 6.0
	maxCurrent         = 63.0 // A, the top of 5004's range; DIP switches cap it lower
	currentStep        = 0.001
	minFailsafeTimeout = 10
	maxFailsafeTimeout = 600
)

// readable lists every register a read may start at, each one UINT32.
var readable = []uint16{regState, regCable, regError, regCurrentL1, regCurrentL1 + 2,
	regCurrentL1 + 4, regSerial, regProduct, regFirmware, regPower, regEnergy,
	regVoltageL1, regVoltageL1 + 2, regVoltageL1 + 4, regPowerFactor, regMaxCurrent,
	regRFID, regSessionEnergy, regPhaseSource, regPhaseState, regFailsafeCurrent,
	regFailsafeTimeout}

// Slots of the third request of a poll. The first two requests read the
// charging state and the power on every poll; the third alternates the
// cable state with the next value of the rotation, and carries the
// identity on the first polls.
var (
	rotation = []uint16{regCurrentL1, regCurrentL1 + 2, regCurrentL1 + 4, regEnergy,
		regVoltageL1, regVoltageL1 + 2, regVoltageL1 + 4, regMaxCurrent, regError,
		regPhaseState, regFailsafeTimeout}
	identity = []uint16{regSerial, regProduct, regFirmware, regFailsafeTimeout}
)

func u32(addr uint16) modbusx.Value { return modbusx.At(addr, modbusx.Uint32) }

// planConfig keeps every value in its own request, as KEBA requires.
func planConfig() modbusx.PlanConfig { return modbusx.PlanConfig{MaxCount: 2} }
