package openevse

import (
	"fmt"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

// stateName names an EVSE state (OpenEVSE controller header openevse.h;
// protocols.md §2).
func stateName(n int) string {
	switch n {
	case 0:
		return "starting"
	case 1:
		return "not connected"
	case 2:
		return "connected"
	case 3:
		return "charging"
	case 4:
		return "vent required"
	case 5:
		return "diode check failed"
	case 6:
		return "GFCI fault"
	case 7:
		return "no ground"
	case 8:
		return "stuck relay"
	case 9:
		return "GFCI self-test failure"
	case 10:
		return "over temperature"
	case 11:
		return "over current"
	case 254:
		return "sleeping"
	case 255:
		return "disabled"
	}
	return fmt.Sprintf("state %d", n)
}

// ErrorCodeOverride is State.ErrorCode while a manual override set on the
// charger outranks evbridge's claim.
const ErrorCodeOverride = "manual_override"

// toState maps a reading onto the charger model. c (the last /config) and
// ovr (the override, when one is active and could be read) may be nil.
func (s *status) toState(c *config, ovr *props) charger.State {
	st := charger.State{Identity: identity(c, s.mac)}
	vehicle := s.state == 2 || s.state == 3 || s.state == 4
	if s.vehicle != nil {
		vehicle = *s.vehicle
	}
	switch {
	case s.state == 1:
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
	case s.state == 2:
		st.IEC, st.Status = charger.IECB, charger.StatusConnected
	case s.state == 3:
		st.IEC, st.Status = charger.IECC, charger.StatusCharging
	case s.state == 4:
		st.IEC, st.Status = charger.IECD, charger.StatusCharging
	case s.state >= 5 && s.state <= 11:
		st.IEC, st.Status = charger.IECF, charger.StatusError
		st.ErrorCode, st.ErrorText = strconv.Itoa(s.state), stateName(s.state)
	case (s.state == 254 || s.state == 255) && vehicle:
		st.IEC, st.Status = charger.IECB, charger.StatusPaused // sleeping or disabled by a claim or timer
	case s.state == 254 || s.state == 255:
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
	default: // 0: the controller is starting
		st.IEC, st.Status = charger.IECUnknown, charger.StatusUnknown
	}
	switch s.claimState {
	case "active":
		st.Enabled = charger.Ptr(true)
	case "disabled":
		st.Enabled = charger.Ptr(false)
	}
	if s.pilot != nil {
		st.CurrentLimit = charger.Ptr(float64(*s.pilot))
	}

	// One current sensor. With is_threephase the firmware takes the same
	// current on all three phases (src/evse_monitor.cpp: power ×3).
	phases := 1
	if c != nil && c.threePhase {
		phases = 3
	}
	amps := max(s.milliamps/1000, 0)
	for range phases {
		st.Currents = append(st.Currents, amps)
		if s.volts != nil {
			st.Voltages = append(st.Voltages, *s.volts)
		}
	}
	switch {
	case s.watts != nil:
		st.Power = charger.Ptr(max(*s.watts, 0))
	case s.volts != nil:
		st.Power = charger.Ptr(amps * *s.volts * float64(phases))
	}
	if c != nil {
		st.Phases = charger.Ptr(phases)
	}
	if s.sessionWh != nil {
		st.SessionEnergy = charger.Ptr(*s.sessionWh / 1000)
	}
	st.EnergyTotal = s.totalKWh
	st.Temperature = s.temp
	st.RSSI = s.rssi

	if s.manualOverride {
		text := "manual override set on the charger"
		if ovr != nil {
			text += " holds " + ovr.describe()
		}
		text += "; it outranks evbridge's claim (priority 1000 over 500) until it is cleared on the charger"
		if st.ErrorCode == "" {
			st.ErrorCode, st.ErrorText = ErrorCodeOverride, text
		} else {
			st.ErrorText += "; " + text
		}
	}
	return st
}

func identity(c *config, mac string) charger.Identity {
	id := charger.Identity{Brand: "OpenEVSE", Model: "OpenEVSE", Serial: mac}
	if c == nil {
		return id
	}
	if c.buildenv != "" {
		id.Model += " (" + c.buildenv + ")"
	}
	switch {
	case c.version != "" && c.firmware != "":
		id.Firmware = c.version + " (EVSE " + c.firmware + ")"
	case c.version != "":
		id.Firmware = c.version
	default:
		id.Firmware = c.firmware
	}
	return id
}
