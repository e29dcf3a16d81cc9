package smaev

import (
	"math"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Enum values (package doc; evcc types.go and pysmaev const.py agree).
const (
	stateA      = 200111 // no vehicle
	stateB      = 200112 // connected, not charging ("sleep mode")
	stateC      = 200113 // charging ("active mode")
	stateLocked = 5169   // station locked

	switchFast = 4718 // rotary switch: fast (boost) charging
	switchEco  = 4950 // rotary switch: eco (smart) charging

	modeFast      = "4718"
	modeOptimised = "4719"
	modePlanned   = "4720"
	modeStop      = "4721"

	lockOn  = "1129" // "yes"
	lockOff = "1130" // "no"
)

// Error codes the driver reports in State.ErrorCode.
const (
	ErrorCodeLocked    = "locked"     // ChaStt 5169
	ErrorCodeAppLock   = "app_lock"   // ChrgLok 1129
	ErrorCodeEcoSwitch = "eco_switch" // ModSw 4950
)

// modeName names an ActChaMod value.
func modeName(m string) string {
	switch m {
	case modeFast:
		return "fast charging"
	case modeOptimised:
		return "optimised charging"
	case modePlanned:
		return "planned charging"
	case modeStop:
		return "charging stopped"
	}
	return "mode " + m
}

// toState maps a reading onto the charger model.
func (r *reading) toState() charger.State {
	st := charger.State{Identity: charger.Identity{Brand: "SMA", Model: r.model, Serial: r.serNo, Firmware: r.fw}}
	if st.Model == "" {
		st.Model = "EV Charger"
	}
	switch r.mode {
	case modeFast, modeOptimised, modePlanned:
		st.Enabled = charger.Ptr(true)
	case modeStop:
		st.Enabled = charger.Ptr(false)
	}
	switch *r.state {
	case stateA:
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
	case stateB:
		st.IEC, st.Status = charger.IECB, charger.StatusConnected
		if st.Enabled != nil && !*st.Enabled {
			st.Status = charger.StatusPaused
		}
	case stateC:
		st.IEC, st.Status = charger.IECC, charger.StatusCharging
	case stateLocked:
		st.Status = charger.StatusPaused
		addErrorTo(&st, ErrorCodeLocked, "the charging station is locked (ChaStt 5169): release it in the SMA app or at the charger")
	default:
		st.Status = charger.StatusUnknown
		addErrorTo(&st, "state_"+strconv.Itoa(*r.state), "unknown charging state "+strconv.Itoa(*r.state))
	}
	st.CurrentLimit = r.limit
	if r.power != nil {
		st.Power = charger.Ptr(math.Max(*r.power, 0))
	}
	if r.phase[0] != nil || r.phase[1] != nil || r.phase[2] != nil {
		st.Currents = make([]float64, 3)
		for i, p := range r.phase {
			if p != nil {
				// The device counts the charger's draw as negative; the
				// magnitude is right whichever sign a firmware uses.
				st.Currents[i] = math.Abs(*p)
			}
		}
	}
	if r.sessWh != nil {
		st.SessionEnergy = charger.Ptr(*r.sessWh / 1000)
	}
	if r.totalWh != nil {
		st.EnergyTotal = charger.Ptr(*r.totalWh / 1000)
	}
	if r.appLock == lockOn {
		addErrorTo(&st, ErrorCodeAppLock, "the app lock is on (Parameter.Chrg.ChrgLok): the charger waits for a release "+
			"in the SMA app before it charges or sees a car")
	}
	if r.swtch != nil && *r.swtch == switchEco {
		addErrorTo(&st, ErrorCodeEcoSwitch, "the rotary switch is in the eco position: the charger runs its own "+
			modeName(r.mode)+" and takes no commands from evbridge")
	}
	return st
}

// addErrorTo sets the error code, or appends to the text when one is set.
func addErrorTo(st *charger.State, code, text string) {
	if st.ErrorCode == "" {
		st.ErrorCode, st.ErrorText = code, text
		return
	}
	st.ErrorText += "; " + text
}
