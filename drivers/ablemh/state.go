package ablemh

import (
	"fmt"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
)

// report is one read of 0x002E..0x0032, decoded.
type report struct {
	code      uint8 // state byte (ABL §3.4)
	connected bool  // UCP ≤ 10 V: a vehicle is connected
	duty      uint16
	ict       [3]uint16 // 0.1 A; noCurrent: n/a or state A
}

func decodeReport(regs []uint16) (report, error) {
	if len(regs) != reportLen || regs[0]>>8 != regReport {
		return report{}, fmt.Errorf("%w: status answer %04X does not start with register 0x2E", charger.ErrBadReply, first16(regs))
	}
	return report{code: uint8(regs[0]), connected: regs[1]&bitUCP != 0, duty: regs[1] & dutyMask,
		ict: [3]uint16{regs[2], regs[3], regs[4]}}, nil
}

func first16(regs []uint16) uint16 {
	if len(regs) == 0 {
		return 0
	}
	return regs[0]
}

// identity is what 0x0001 and 0x0050 tell, once read.
type identity struct {
	flags, firmware uint8
	deviceID        uint8
	flagsOK         bool
	serial          string
}

func (id *identity) putFlags(regs []uint16) error {
	if len(regs) != identityLen || regs[0]>>8 != regIdentity {
		return fmt.Errorf("%w: identity answer %04X does not start with register 0x01", charger.ErrBadReply, first16(regs))
	}
	id.deviceID, id.firmware, id.flags, id.flagsOK = uint8(regs[0]), uint8(regs[1]>>8), uint8(regs[1]), true
	return nil
}

func (id *identity) putSerial(regs []uint16) error {
	if len(regs) != serialLen || regs[0]>>8 != regSerial {
		return fmt.Errorf("%w: serial answer %04X does not start with register 0x50", charger.ErrBadReply, first16(regs))
	}
	var b []byte
	for _, r := range regs[1:] {
		b = append(b, byte(r>>8), byte(r))
	}
	id.serial = strings.TrimRight(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)), " ")
	return nil
}

func (id *identity) meter() (present, known bool) { return id.flags&flagMeter != 0, id.flagsOK }

func (id *identity) charger() charger.Identity {
	ci := charger.Identity{Brand: "ABL", Model: "eMH1/eMH2 (EVCC2/3)", Serial: id.serial}
	if id.flagsOK {
		ci.Firmware = fmt.Sprintf("%d.%d", id.firmware>>4, id.firmware&0xF)
	}
	return ci
}

// stateOf maps the state byte: the high nibble is the letter (0xA = A),
// the low nibble the index (ABL §3.4). ABL's E states are the
// controller's own (disabled, test, setup, bus idle), not IEC's E.
func stateOf(s uint8) (charger.IECState, charger.Status, string) {
	name := fmt.Sprintf("%c%d", 'A'+rune(s>>4)-0xA, s&0xF)
	switch s >> 4 {
	case 0xA:
		return charger.IECA, charger.StatusNoVehicle, name
	case 0xB:
		return charger.IECB, charger.StatusConnected, name
	case 0xC:
		return charger.IECC, charger.StatusCharging, name
	case 0xE:
		return charger.IECUnknown, charger.StatusUnavailable, name
	case 0xF:
		return charger.IECF, charger.StatusError, name
	}
	return charger.IECUnknown, charger.StatusUnknown, fmt.Sprintf("0x%02X", s)
}

var stateText = map[uint8]string{
	0xC3: "charging with a reduced current (F16/F17)", 0xC4: "charging with a reduced current (load imbalance)",
	0xE0: "outlet disabled", 0xE1: "production test", 0xE2: "setup mode", 0xE3: "bus idle",
	0xF1: "welding detected", 0xF2: "internal error", 0xF3: "DC residual current", 0xF4: "upstream communication timeout",
	0xF5: "lock failed", 0xF6: "cable coding out of range", 0xF7: "state D requested", 0xF8: "CP out of range",
	0xF9: "overcurrent", 0xFA: "temperature out of range", 0xFB: "unintended opened contact",
}

// state builds the reading from the status report, what is known of the
// identity and, after an error state, the system flags.
func (r report) state(id *identity, sysFlags uint16, sysOK bool) charger.State {
	var st charger.State
	var name string
	st.IEC, st.Status, name = stateOf(r.code)
	switch {
	case st.Status == charger.StatusUnknown:
		st.ErrorCode, st.ErrorText = "state", "unknown state "+name
	case st.Status == charger.StatusError || st.Status == charger.StatusUnavailable || r.code == 0xC3 || r.code == 0xC4:
		st.ErrorCode, st.ErrorText = name, stateText[r.code]
	}
	if sysOK && sysFlags&sysUpstreamLost != 0 && r.code != 0xF4 && st.ErrorCode != "" {
		st.ErrorText += "; upstream communication lost"
	}
	if r.code == 0xE0 { // outlet disabled: a normal stop, the UCP bit tells the plug
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
		if r.connected {
			st.IEC, st.Status = charger.IECB, charger.StatusPaused
		}
	}
	enabled := r.duty != noCurrent && r.code != 0xE0
	st.Enabled = charger.Ptr(enabled)
	st.CurrentLimit = charger.Ptr(0.0)
	if enabled {
		st.CurrentLimit = charger.Ptr(ampsOf(r.duty))
	}
	if st.Status == charger.StatusConnected && !enabled {
		st.Status = charger.StatusPaused
	}
	st.Currents = r.currents(id)
	if present, _ := id.meter(); present && st.Currents != nil {
		// An estimate: the controller measures no voltage or power.
		st.Power = charger.Ptr(float64(int(nominalVoltage*(st.Currents[0]+st.Currents[1]+st.Currents[2]) + 0.5)))
	}
	if st.Status == charger.StatusCharging && st.Currents != nil {
		n := 0
		for _, a := range st.Currents {
			if a >= 1 {
				n++
			}
		}
		if n == 1 || n == 3 {
			st.Phases = charger.Ptr(n)
		}
	}
	st.Identity = id.charger()
	return st
}

// currents are Ict1..3 in A: nil without the internal meter; 0x03E8
// reads 0 A (state A) when the meter is there. Before the identity is
// read, only values that all look measured count.
func (r report) currents(id *identity) []float64 {
	present, known := id.meter()
	if known && !present {
		return nil
	}
	out := make([]float64, 3)
	for i, v := range r.ict {
		switch {
		case v == noCurrent && known:
		case v >= noCurrent:
			return nil
		default:
			out[i] = float64(v) / 10
		}
	}
	return out
}
