package abl

import "github.com/evbridge/evbridge/drivers/modbusx"

// Holding registers of connector 1 (notes §4c, from evcc); connector n
// adds connectorStride × (n−1). 32-bit values high word first.
const (
	regCurrentL1    = 0x3001 // U32, 0.1 A; L2 0x3003, L3 0x3005
	regVoltageL1    = 0x3007 // U32, 0.1 V; L2 0x3009, L3 0x300B
	regPower        = 0x300D // U32, W
	regEnergy       = 0x300F // U32, 0.01 kWh
	meterEnd        = 0x3011
	regState        = 0x3031 // low byte: state as in ABL §3.4 (0xA1, 0xB2, 0xC2, 0xF4 ...)
	regMaxCurrent   = 0x3032 // U16, 0.1 A, R/W: 0 disables, else 60..
	statusEnd       = 0x3033
	connectorStride = 0x100
	unitDefault     = 255
	defaultPort     = 502
	minCurrent      = 6.0
	maxCurrent      = 32.0 // A, the eM4's highest rating
	currentStep     = 0.1
)

// values are the registers a poll reads, at connector offset off.
func values(off uint16) []modbusx.Value {
	var vs []modbusx.Value
	for i := uint16(0); i < 3; i++ {
		vs = append(vs, modbusx.At(regCurrentL1+off+2*i, modbusx.Uint32).Scaled(-1, 0),
			modbusx.At(regVoltageL1+off+2*i, modbusx.Uint32).Scaled(-1, 0))
	}
	return append(vs, modbusx.At(regPower+off, modbusx.Uint32), modbusx.At(regEnergy+off, modbusx.Uint32).Scaled(-2, 0),
		modbusx.At(regState+off, modbusx.Uint16), modbusx.At(regMaxCurrent+off, modbusx.Uint16))
}

// planConfig keeps reads inside the two documented blocks of connector
// off: the meter (0x3001..0x3010) and the status (0x3031..0x3032).
func planConfig(off uint16) modbusx.PlanConfig {
	c := modbusx.PlanConfig{}
	c.Boundaries = append(modbusx.Illegal(modbusx.Holding, regCurrentL1+off, meterEnd-regCurrentL1),
		modbusx.Illegal(modbusx.Holding, regState+off, statusEnd-regState)...)
	return c
}
