package mennekes

import "github.com/evbridge/evbridge/drivers/modbusx"

// HCC3 (AMTRON Xtra/Premium): input registers, 32-bit values low word
// first, strings low byte first (HCC3 doc; notes §12).
const (
	hccCP         = 770 // CP state 1 A1 .. 8 D2
	hccPP         = 771 // PP state
	hccError      = 772 // HCC3 error code
	hccState      = 773 // AMTRON state 0 idle .. 6 error
	hccStatesEnd  = 774
	hccPhases     = 776 // phase count
	hccRated      = 777 // A
	hccInstall    = 778 // installation current, A
	hccSerial     = 779 // U32
	hccSession    = 781 // U32, Wh of the session
	hccPower      = 783 // U32, W
	hccName       = 785 // string, 11 registers
	hccInfoEnd    = 796
	hccPlannedMin = 805 // A
	hccPlannedEnd = 807
	hccLimit      = 1024 // holding, A, R/W: customer current limitation, 0 pauses
	hccChargeCmd  = 1025 // holding, W: 1 pause, 2 continue, 3 terminate, 4 start
)

// Bender CC612/613 (AMTRON Professional, ChargeControl, 4You): holding
// registers, big-endian, high word first (Bender ECU Modbus TCP server
// spec rev 1.07 as used by nymea and evcc; notes §12).
const (
	benFirmware = 100 // 2 registers, ASCII
	benOCPP     = 104 // OCPP charge point status
	benProtocol = 120 // server protocol version
	benCP       = 122 // CP state 1 A .. 5 E
	benAvail    = 124 // 1 available, 0 not (fw ≥ 5.22)
	benRelay    = 140 // 0 off, 1 three phases, 5 one phase
	benModel    = 142 // string, 10 registers
	benInfoEnd  = 152
	benMeter    = 200 // U32 ×3 Wh, ×3 W, ×3 mA, then total Wh (218), W (220), V ×3 (222)
	benTotalWh  = 218
	benTotalW   = 220
	benVoltage  = 222
	benMeterEnd = 228
	benSession  = 700 // block start
	benSignal   = 706 // A signalled to the car
	benMin      = 712 // A
	benMax      = 715 // A
	benEnergy   = 716 // U32, Wh of the session
	benSessEnd  = 750
	benLimit    = 1000 // A, R/W: HEMS current limit, 0 pauses
)

const (
	unitDefault = 255
	defaultPort = 502
	minCurrent  = 6.0
	maxCurrent  = 32.0
)

func in(a uint16, t modbusx.Type) modbusx.Value { return modbusx.At(a, t).In(modbusx.Input).LowFirst() }

var hccValues = []modbusx.Value{
	in(hccCP, modbusx.Uint16), in(hccPP, modbusx.Uint16), in(hccError, modbusx.Uint16), in(hccState, modbusx.Uint16),
	in(hccPhases, modbusx.Uint16), in(hccRated, modbusx.Uint16), in(hccInstall, modbusx.Uint16),
	in(hccSerial, modbusx.Uint32), in(hccSession, modbusx.Uint32), in(hccPower, modbusx.Uint32),
	modbusx.Text(hccName, 11).In(modbusx.Input).Swapped(), modbusx.At(hccLimit, modbusx.Uint16),
}

var benValues = []modbusx.Value{
	modbusx.Text(benFirmware, 2), modbusx.At(benCP, modbusx.Uint16), modbusx.At(benAvail, modbusx.Uint16),
	modbusx.At(benRelay, modbusx.Uint16), modbusx.Text(benModel, 10),
	modbusx.At(benMeter+12, modbusx.Uint32), modbusx.At(benMeter+14, modbusx.Uint32), modbusx.At(benMeter+16, modbusx.Uint32),
	modbusx.At(benTotalWh, modbusx.Uint32), modbusx.At(benTotalW, modbusx.Uint32),
	modbusx.At(benVoltage, modbusx.Uint32), modbusx.At(benVoltage+2, modbusx.Uint32), modbusx.At(benVoltage+4, modbusx.Uint32),
}

var (
	benSessionValues = []modbusx.Value{modbusx.At(benSignal, modbusx.Uint16), modbusx.At(benEnergy, modbusx.Uint32)}
	benLimitValues   = []modbusx.Value{modbusx.At(benLimit, modbusx.Uint16)}
)

// planConfig bridges undocumented registers inside a documented block
// (which the simulator answers with 0) and never leaves a block.
func planConfig(t modbusx.Table, blocks ...[2]uint16) modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 20}
	for _, b := range blocks {
		c.Boundaries = append(c.Boundaries, modbusx.Illegal(t, b[0], b[1]-b[0])...)
	}
	return c
}
