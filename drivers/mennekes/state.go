package mennekes

import (
	"fmt"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// hccErrors names the HCC3 error codes (772).
var hccErrors = map[uint64]string{
	10: "installation fault", 11: "controller fault", 12: "misconfiguration", 13: "overtemperature",
	14: "mirror contactor error", 15: "invalid device time", 16: "energy manager connection error",
	30: "device startup", 31: "internal test not passed", 32: "no connection to the HMI",
	50: "badly plugged cable", 51: "wrong cable", 52: "defective cable", 100: "ACU communication error",
	101: "not polled by the ACU", 102: "maintenance", 103: "disabled", 255: "unknown error",
}

// hccCPState maps the HCC3 CP state (770): 1/2 A1/A2, 3/4 B1/B2, 5/6
// C1/C2, 7/8 D1/D2. C1/D1: the car asks, no PWM: paused.
func hccCPState(v uint64) (charger.IECState, charger.Status) {
	switch v {
	case 1, 2:
		return charger.IECA, charger.StatusNoVehicle
	case 3, 4:
		return charger.IECB, charger.StatusConnected
	case 5:
		return charger.IECC, charger.StatusPaused
	case 6:
		return charger.IECC, charger.StatusCharging
	case 7:
		return charger.IECD, charger.StatusPaused
	case 8:
		return charger.IECD, charger.StatusCharging
	}
	return charger.IECUnknown, charger.StatusUnknown
}

// benCPState maps the Bender CP state (122): 1 A .. 5 E.
func benCPState(v uint64) (charger.IECState, charger.Status) {
	switch v {
	case 1:
		return charger.IECA, charger.StatusNoVehicle
	case 2:
		return charger.IECB, charger.StatusConnected
	case 3:
		return charger.IECC, charger.StatusCharging
	case 4:
		return charger.IECD, charger.StatusCharging
	case 5:
		return charger.IECE, charger.StatusError
	}
	return charger.IECUnknown, charger.StatusUnknown
}

// decodeHCC3 reads one HCC3 poll.
func decodeHCC3(b *modbusx.Block) (charger.State, float64, bool) {
	var st charger.State
	u := func(v modbusx.Value) (uint64, bool) { x, err := b.Uint(v); return x, err == nil }
	cp, ok := u(in(hccCP, modbusx.Uint16))
	if !ok {
		return st, 0, false
	}
	st.IEC, st.Status = hccCPState(cp)
	state, _ := u(in(hccState, modbusx.Uint16))
	code, _ := u(in(hccError, modbusx.Uint16))
	switch {
	case st.IEC == charger.IECUnknown:
		st.ErrorCode, st.ErrorText = "cp", fmt.Sprintf("unknown CP state %d", cp)
	case state == 6 || code != 0 && code != 30:
		st.ErrorCode, st.ErrorText = strconv.FormatUint(code, 10), hccErrors[code]
		if state == 6 {
			st.Status = charger.StatusError
		}
	case state == 4 && st.Status != charger.StatusNoVehicle:
		st.Status = charger.StatusPaused
	}
	if lim, ok := u(modbusx.At(hccLimit, modbusx.Uint16)); ok && lim <= 80 {
		st.CurrentLimit, st.Enabled = charger.Ptr(float64(lim)), charger.Ptr(lim > 0)
		if st.Status == charger.StatusConnected && lim == 0 {
			st.Status = charger.StatusPaused
		}
	}
	if ph, ok := u(in(hccPhases, modbusx.Uint16)); ok && (ph == 1 || ph == 3) {
		st.Phases = charger.Ptr(int(ph))
	}
	if p, ok := u(in(hccPower, modbusx.Uint32)); ok && p <= 100000 {
		st.Power = charger.Ptr(float64(p))
	}
	if e, ok := u(in(hccSession, modbusx.Uint32)); ok && e < 1e7 {
		st.SessionEnergy = charger.Ptr(float64(e) / 1000)
	}
	st.Identity = charger.Identity{Brand: "Mennekes", Model: "AMTRON (HCC3)"}
	if s, ok := u(in(hccSerial, modbusx.Uint32)); ok && s != 0 {
		st.Serial = strconv.FormatUint(s, 10)
	}
	if n, err := b.String(modbusx.Text(hccName, 11).In(modbusx.Input).Swapped()); err == nil && n != "" {
		st.Model = n
	}
	rated, _ := u(in(hccRated, modbusx.Uint16))
	return st, float64(rated), true
}

// benReading is the Bender values kept across polls: the third request
// alternates between the session block and the HEMS limit.
type benReading struct {
	signal, limit       uint64
	sessionWh           uint64
	haveSignal, haveLim bool
}

// decodeBender reads a Bender poll.
func decodeBender(b *modbusx.Block, r *benReading) (charger.State, bool) {
	var st charger.State
	u := func(v modbusx.Value) (uint64, bool) { x, err := b.Uint(v); return x, err == nil }
	if v, ok := u(modbusx.At(benSignal, modbusx.Uint16)); ok {
		r.signal, r.haveSignal = v, true
		r.sessionWh, _ = u(modbusx.At(benEnergy, modbusx.Uint32))
	}
	if v, ok := u(modbusx.At(benLimit, modbusx.Uint16)); ok {
		r.limit, r.haveLim = v, true
	}
	cp, ok := u(modbusx.At(benCP, modbusx.Uint16))
	if !ok {
		return st, false
	}
	st.IEC, st.Status = benCPState(cp)
	if st.IEC == charger.IECUnknown {
		st.ErrorCode, st.ErrorText = "cp", fmt.Sprintf("unknown CP state %d", cp)
	}
	if av, ok := u(modbusx.At(benAvail, modbusx.Uint16)); ok && av == 0 {
		st.Status, st.ErrorCode, st.ErrorText = charger.StatusUnavailable, "unavailable", "charge point unavailable"
	}
	if r.haveLim && r.limit <= 80 {
		st.Enabled = charger.Ptr(r.limit > 0)
		if st.Status == charger.StatusConnected && r.limit == 0 {
			st.Status = charger.StatusPaused
		}
	}
	if r.haveSignal && r.signal <= 80 {
		st.CurrentLimit = charger.Ptr(float64(r.signal))
		st.SessionEnergy = charger.Ptr(float64(r.sessionWh) / 1000)
	}
	switch rel, _ := u(modbusx.At(benRelay, modbusx.Uint16)); rel {
	case 1:
		st.Phases = charger.Ptr(3)
	case 5:
		st.Phases = charger.Ptr(1)
	}
	var amps, volts []float64
	for i := uint16(0); i < 3; i++ {
		if a, ok := u(modbusx.At(benMeter+12+2*i, modbusx.Uint32)); ok && a <= 100000 {
			amps = append(amps, float64(a)/1000)
		}
		if v, ok := u(modbusx.At(benVoltage+2*i, modbusx.Uint32)); ok && v <= 500 {
			volts = append(volts, float64(v))
		}
	}
	if len(amps) == 3 {
		st.Currents = amps
	}
	if len(volts) == 3 {
		st.Voltages = volts
	}
	if p, ok := u(modbusx.At(benTotalW, modbusx.Uint32)); ok && p <= 100000 {
		st.Power = charger.Ptr(float64(p))
	}
	if e, ok := u(modbusx.At(benTotalWh, modbusx.Uint32)); ok && e != 0xffffffff {
		st.EnergyTotal = charger.Ptr(float64(e) / 1000)
	}
	st.Identity = charger.Identity{Brand: "Mennekes", Model: "AMTRON (Bender)"}
	if m, err := b.String(modbusx.Text(benModel, 10)); err == nil && m != "" {
		st.Model = m
	}
	st.Firmware, _ = b.String(modbusx.Text(benFirmware, 2))
	return st, true
}
