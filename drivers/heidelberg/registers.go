package heidelberg

import "github.com/evbridge/evbridge/drivers/modbusx"

// Input registers (FC4), HEC register layout V1.0.7; 16-bit big-endian,
// 32-bit values high word first.
const (
	regLayout       = 4  // register layout version, 0x0100 = V1.0.0
	regState        = 5  // charging state 2..11
	regCurrentL1    = 6  // 0.1 A rms; L2 7, L3 8
	regTemperature  = 9  // int16, 0.1 °C
	regVoltageL1    = 10 // V rms; L2 11, L3 12
	regExtLock      = 13 // external lock input: 0 locked, 1 unlocked
	regPower        = 14 // VA, L1+L2+L3
	regEnergyOn     = 15 // U32, VAh since power-on (V1.0.4)
	regEnergyTotal  = 17 // U32, VAh since installation (V1.0.7)
	statusEnd       = 19
	regHWMax        = 100 // A, maximal current set by the hardware switches
	regHWMin        = 101 // A, minimal current
	regLogistic     = 102 // char[64], the logistic string (serial)
	logisticWords   = 32
	logisticEnd     = 134
	regVariant      = 200 // hardware variant (V1.0.3)
	regAppRevision  = 203 // application software svn revision (V1.0.5)
	variantEnd      = 204
	layoutWithTotal = 0x0107
)

// Holding registers (FC3 read, FC6 write; evcc writes with FC16).
const (
	regWatchdog   = 257 // ms: Modbus master watchdog timeout
	regStandby    = 258 // 0 standby enabled, 4 disabled
	regRemoteLock = 259 // 0 locked, 1 unlocked
	regReserved   = 260
	regMaxCurrent = 261 // 0.1 A: 0, or 60..160
	regFailsafe   = 262 // 0.1 A: 0, or 60..160
	holdingEnd    = 263
	standbyOff    = 4
	defaultPort   = 502
	minCurrent    = 6.0
	maxCurrent    = 16.0 // A, the Energy Control's rating
	currentStep   = 0.1
)

var (
	statusValues = []modbusx.Value{
		modbusx.At(regLayout, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regState, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regCurrentL1, modbusx.Uint16).In(modbusx.Input).Scaled(-1, 0),
		modbusx.At(regCurrentL1+1, modbusx.Uint16).In(modbusx.Input).Scaled(-1, 0),
		modbusx.At(regCurrentL1+2, modbusx.Uint16).In(modbusx.Input).Scaled(-1, 0),
		modbusx.At(regTemperature, modbusx.Int16).In(modbusx.Input).Scaled(-1, 0),
		modbusx.At(regVoltageL1, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regVoltageL1+1, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regVoltageL1+2, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regExtLock, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regPower, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regEnergyOn, modbusx.Uint32).In(modbusx.Input),
		modbusx.At(regEnergyTotal, modbusx.Uint32).In(modbusx.Input),
	}
	holdingValues = []modbusx.Value{
		modbusx.At(regWatchdog, modbusx.Uint16),
		modbusx.At(regStandby, modbusx.Uint16),
		modbusx.At(regRemoteLock, modbusx.Uint16),
		modbusx.At(regMaxCurrent, modbusx.Uint16),
		modbusx.At(regFailsafe, modbusx.Uint16),
	}
	hwValues = []modbusx.Value{
		modbusx.At(regHWMax, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regHWMin, modbusx.Uint16).In(modbusx.Input),
		modbusx.Text(regLogistic, logisticWords).In(modbusx.Input),
	}
	variantValues = []modbusx.Value{
		modbusx.At(regVariant, modbusx.Uint16).In(modbusx.Input),
		modbusx.At(regAppRevision, modbusx.Uint16).In(modbusx.Input),
	}
)

// planConfig bridges the gaps inside a documented block (260 in the
// holding block, 201..202 in the variant block) and no other.
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 2}
	for _, b := range [][3]uint16{{uint16(modbusx.Input), 4, statusEnd}, {uint16(modbusx.Input), regHWMax, logisticEnd},
		{uint16(modbusx.Input), regVariant, variantEnd}, {uint16(modbusx.Holding), regWatchdog, holdingEnd}} {
		c.Boundaries = append(c.Boundaries, modbusx.Illegal(modbusx.Table(b[0]), b[1], b[2]-b[1])...)
	}
	return c
}
