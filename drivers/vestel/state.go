package vestel

import (
	"fmt"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// reading is one poll's status block, decoded. A register that is absent,
// reads all ones (unavailable) or holds an implausible value leaves its
// field unset rather than publishing garbage.
type reading struct {
	cpState, charging, cable int // -1: unknown
	fault                    uint32
	faultOK                  bool
	amps, volts              []float64
	power                    float64
	powerOK                  bool
	meterKWh                 float64
	meterOK                  bool
	sessionWh                float64
	sessionOK                bool
}

// Plausibility limits: a register beyond them is treated as unreadable.
const (
	maxAmps  = 80.0    // A per phase
	maxVolts = 500.0   // V phase to neutral
	maxWatts = 60000.0 // W, far above 3 × 32 A × 230 V
)

func u16(b *modbusx.Block, addr uint16) (uint16, bool) {
	return read16(b, in(modbusx.At(addr, modbusx.Uint16)))
}

// hold16 reads a holding register.
func hold16(b *modbusx.Block, addr uint16) (uint16, bool) {
	return read16(b, modbusx.At(addr, modbusx.Uint16))
}

func read16(b *modbusx.Block, v modbusx.Value) (uint16, bool) {
	u, err := b.Uint(v)
	return uint16(u), err == nil && u != 0xffff
}

func u32(b *modbusx.Block, addr uint16) (uint32, bool) {
	v, err := b.Uint(in(modbusx.At(addr, modbusx.Uint32)))
	return uint32(v), err == nil && v != 0xffffffff
}

func decodeStatus(b *modbusx.Block) reading {
	r := reading{cpState: -1, charging: -1, cable: -1}
	small := func(addr uint16, max uint16) int {
		if v, ok := u16(b, addr); ok && v <= max {
			return int(v)
		}
		return -1
	}
	r.cpState, r.charging, r.cable = small(regCPState, 8), small(regCharging, 1), small(regCable, 3)
	r.fault, r.faultOK = u32(b, regFault)
	r.amps = phases(b, regCurrentL1, 0.001, maxAmps)
	r.volts = phases(b, regVoltageL1, 1, maxVolts)
	if w, ok := u32(b, regPower); ok && float64(w) <= maxWatts {
		r.power, r.powerOK = float64(w), true
	}
	if m, ok := u32(b, regMeter); ok {
		r.meterKWh, r.meterOK = float64(m)/10, true
	}
	if e, ok := u32(b, regSessionWh); ok {
		r.sessionWh, r.sessionOK = float64(e), true
	}
	return r
}

// phases reads three U16 two registers apart, scaled; all three or none.
func phases(b *modbusx.Block, addr uint16, scale, limit float64) []float64 {
	out := make([]float64, 0, 3)
	for i := uint16(0); i < 3; i++ {
		v, ok := u16(b, addr+2*i)
		if !ok || float64(v)*scale > limit {
			return nil
		}
		out = append(out, float64(v)*scale)
	}
	return out
}

// pilot derives the IEC state from cable and charging registers, which
// every firmware fills; a faulted charge point is F.
func (r reading) pilot() charger.IECState {
	switch {
	case r.cpState == 8:
		return charger.IECF
	case r.cable < 0:
		return charger.IECUnknown
	case r.cable < 2:
		return charger.IECA
	case r.charging == 1:
		return charger.IECC
	}
	return charger.IECB
}

// status maps register 1000. SuspendedEV (the car takes nothing, full or
// waiting for its own timer) stays "connected"; Finishing, the session
// over with the cable still in, is "complete".
func (r reading) status() charger.Status {
	switch r.cpState {
	case 0:
		return charger.StatusNoVehicle
	case 1, 4:
		return charger.StatusConnected
	case 2:
		return charger.StatusCharging
	case 3:
		return charger.StatusPaused
	case 5:
		return charger.StatusComplete
	case 6, 7:
		return charger.StatusUnavailable
	case 8:
		return charger.StatusError
	}
	return charger.StatusFromIEC(r.pilot())
}

// state is the model's view of the status block alone; the driver adds
// setpoint, phases and identity.
func (r reading) state() charger.State {
	st := charger.State{IEC: r.pilot(), Status: r.status()}
	switch {
	case r.faultOK && r.fault != 0:
		st.ErrorCode, st.ErrorText = fmt.Sprintf("fault %d", r.fault), "EVSE fault code "+fmt.Sprint(r.fault)
	case r.cpState == 8:
		st.ErrorCode, st.ErrorText = "faulted", "charge point state faulted"
	case r.cpState < 0:
		st.ErrorCode, st.ErrorText = "state", "charge point state unreadable or out of range"
	}
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	st.Currents, st.Voltages = r.amps, r.volts
	if r.meterOK {
		st.EnergyTotal = charger.Ptr(r.meterKWh)
	}
	if r.sessionOK {
		st.SessionEnergy = charger.Ptr(r.sessionWh / 1000)
	}
	return st
}

// charString decodes a SPEC string: one character per register, in the
// low byte, NUL padded. Anything outside printable ASCII becomes '?'.
func charString(regs []uint16) string {
	var sb strings.Builder
	for _, w := range regs {
		c := byte(w)
		if w == 0 || c == 0 {
			break
		}
		if w > 0xff || c < 0x20 || c > 0x7e {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return strings.TrimSpace(sb.String())
}

// encodeChars is charString's inverse, for the simulator.
func encodeChars(s string, words int) []uint16 {
	out := make([]uint16, words)
	for i := 0; i < words && i < len(s); i++ {
		out[i] = uint16(s[i])
	}
	return out
}

// decodeIdentity fills what the identity reads hold; b may hold either.
func decodeIdentity(b *modbusx.Block, id *charger.Identity) {
	str := func(addr, words uint16, dst *string) {
		if r, err := b.Registers(modbusx.Input, addr, words); err == nil {
			*dst = charString(r)
		}
	}
	str(regSerial, 25, &id.Serial)
	str(regBrand, 10, &id.Brand)
	str(regModel, 5, &id.Model)
	str(regFirmware, 50, &id.Firmware)
}
