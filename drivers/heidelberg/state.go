package heidelberg

import (
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// status is the status block (input 4..18), decoded.
type status struct {
	layout, code     uint16
	iec              charger.IECState
	st               charger.Status
	amps, volts      []float64
	temp             float64
	tempOK, extLock  bool // extLock: the external input locks the box
	power, totalKWh  float64
	powerOK, totalOK bool
}

// control is the control block (holding 257..262).
type control struct {
	watchdogMS, standby, lock, setpoint, failsafe uint16
}

func (c control) amps() float64 { return float64(c.setpoint) / 10 }

func decodeStatus(b *modbusx.Block) status {
	in := func(a uint16, t modbusx.Type) modbusx.Value { return modbusx.At(a, t).In(modbusx.Input) }
	u16 := func(a uint16) (uint16, bool) { v, err := b.Uint(in(a, modbusx.Uint16)); return uint16(v), err == nil }
	var r status
	r.layout, _ = u16(regLayout)
	r.code, _ = u16(regState)
	r.iec, r.st = stateOf(r.code)
	for i := uint16(0); i < 3; i++ {
		a, aok := u16(regCurrentL1 + i)
		v, vok := u16(regVoltageL1 + i)
		if aok && a <= 800 { // 0..80 A: anything more is not a reading
			r.amps = append(r.amps, float64(a)/10)
		}
		if vok && v <= 500 {
			r.volts = append(r.volts, float64(v))
		}
	}
	if len(r.amps) < 3 {
		r.amps = nil
	}
	if len(r.volts) < 3 {
		r.volts = nil
	}
	t, err := b.Float(in(regTemperature, modbusx.Int16).Scaled(-1, 0))
	r.temp, r.tempOK = t, err == nil && t >= -200 && t <= 200
	lock, ok := u16(regExtLock)
	r.extLock = ok && lock == 0
	p, ok := u16(regPower)
	r.power, r.powerOK = float64(p), ok
	// 17..18 exist from layout V1.0.7 on; older layouts answer 0 there.
	if e, err := b.Uint(in(regEnergyTotal, modbusx.Uint32)); err == nil && r.layout >= layoutWithTotal {
		r.totalKWh, r.totalOK = float64(e)/1000, true
	}
	return r
}

func decodeControl(b *modbusx.Block) control {
	u16 := func(a uint16) uint16 { v, _ := b.Uint(modbusx.At(a, modbusx.Uint16)); return uint16(v) }
	return control{watchdogMS: u16(regWatchdog), standby: u16(regStandby), lock: u16(regRemoteLock),
		setpoint: u16(regMaxCurrent), failsafe: u16(regFailsafe)}
}

// stateOf maps the charging state (HEC reg 5). A1/A2: no car (A2 with
// PWM offered); B1/B2: car connected, without or with PWM; C1: the car
// asks but no current is offered, so charging is paused; C2 and derating
// (8): charging; E and F are the box's not-ready states, 11 an error.
func stateOf(code uint16) (charger.IECState, charger.Status) {
	switch code {
	case 2, 3:
		return charger.IECA, charger.StatusNoVehicle
	case 4, 5:
		return charger.IECB, charger.StatusConnected
	case 6:
		return charger.IECC, charger.StatusPaused
	case 7, 8:
		return charger.IECC, charger.StatusCharging
	case 9:
		return charger.IECE, charger.StatusError
	case 10:
		return charger.IECF, charger.StatusUnavailable
	case 11:
		return charger.IECF, charger.StatusError
	}
	return charger.IECUnknown, charger.StatusUnknown
}

// state is the model's view of a poll.
func (r status) state(ctl control) charger.State {
	st := charger.State{IEC: r.iec, Status: r.st}
	st.Enabled = charger.Ptr(ctl.setpoint > 0 && ctl.lock == 1 && !r.extLock)
	st.CurrentLimit = charger.Ptr(ctl.amps())
	if st.Status == charger.StatusConnected && !*st.Enabled {
		st.Status = charger.StatusPaused
	}
	switch {
	case r.code == 8:
		st.ErrorCode, st.ErrorText = "derating", "charging with reduced current (derating)"
	case r.code == 9:
		st.ErrorCode, st.ErrorText = "E", "box in state E"
	case r.code == 10 && (ctl.lock == 0 || r.extLock):
		st.ErrorCode, st.ErrorText = "locked", "box is locked"
	case r.code == 10:
		st.ErrorCode, st.ErrorText = "F", "box in state F (not ready)"
	case r.code == 11:
		st.ErrorCode, st.ErrorText = "error", "box reports an error"
	case r.iec == charger.IECUnknown:
		st.ErrorCode, st.ErrorText = "state", fmt.Sprintf("unknown charging state %d", r.code)
	}
	st.Currents, st.Voltages = r.amps, r.volts
	if r.powerOK {
		st.Power = charger.Ptr(r.power)
	}
	if r.totalOK {
		st.EnergyTotal = charger.Ptr(r.totalKWh)
	}
	if r.tempOK {
		st.Temperature = charger.Ptr(r.temp)
	}
	if r.st == charger.StatusCharging && len(r.amps) == 3 {
		n := 0
		for _, a := range r.amps {
			if a >= 1 {
				n++
			}
		}
		if n == 1 || n == 3 {
			st.Phases = charger.Ptr(n)
		}
	}
	return st
}

// hwInfo is what the identity blocks tell.
type hwInfo struct {
	hwMax, hwMin      uint16
	logistic          string
	variant, revision uint16
	haveVariant       bool
}

func (h *hwInfo) update(b *modbusx.Block) {
	in := func(a uint16) modbusx.Value { return modbusx.At(a, modbusx.Uint16).In(modbusx.Input) }
	if v, err := b.Uint(in(regHWMax)); err == nil {
		h.hwMax = uint16(v)
		m, _ := b.Uint(in(regHWMin))
		h.hwMin = uint16(m)
		h.logistic, _ = b.String(modbusx.Text(regLogistic, logisticWords).In(modbusx.Input))
	}
	if v, err := b.Uint(in(regVariant)); err == nil {
		r, _ := b.Uint(in(regAppRevision))
		h.variant, h.revision, h.haveVariant = uint16(v), uint16(r), true
	}
}

func (h hwInfo) identity() charger.Identity {
	id := charger.Identity{Brand: "Heidelberg", Model: "Energy Control", Serial: h.logistic}
	if h.hwMax > 0 {
		id.Model = fmt.Sprintf("Energy Control %d A", h.hwMax)
	}
	if h.haveVariant {
		id.Firmware = fmt.Sprintf("rev %d (hw variant %d)", h.revision, h.variant)
	}
	return id
}
