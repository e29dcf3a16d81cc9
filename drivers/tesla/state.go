package tesla

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
)

// threePhase decides the wiring: auto takes three phases when legs B and
// C both carry mains voltage.
func (v *vitals) threePhase(wiring string) bool {
	switch wiring {
	case WiringThreePhase:
		return true
	case WiringSinglePhase:
		return false
	}
	return v.volts[1] != nil && v.volts[2] != nil && *v.volts[1] > 100 && *v.volts[2] > 100
}

// state maps a reading onto the charger model. ver, energyWh and rssi
// come from the slower endpoints and may be nil.
func (v *vitals) state(wiring string, ver *version, energyWh, rssi *float64) charger.State {
	st := charger.State{Identity: charger.Identity{Brand: "Tesla", Model: "Wall Connector Gen 3"}}
	if ver != nil {
		st.Serial, st.Firmware = ver.serial, ver.firmware
		if ver.part != "" {
			st.Model += " " + ver.part
		}
	}
	code := -1
	if v.evseState != nil {
		code = *v.evseState
	}
	// Pilot state as evcc reads it: the contactor closes only to charge.
	// evse_state (codes in the package doc) adds complete (8), error (7)
	// and booting (0).
	switch {
	case v.contactor:
		st.IEC, st.Status = charger.IECC, charger.StatusCharging
	case v.vehicle && code == 8:
		st.IEC, st.Status = charger.IECB, charger.StatusComplete
	case v.vehicle:
		st.IEC, st.Status = charger.IECB, charger.StatusConnected
	case code == 0:
		st.IEC, st.Status = charger.IECUnknown, charger.StatusUnknown
	default:
		st.IEC, st.Status = charger.IECA, charger.StatusNoVehicle
	}
	var problems []string
	if code == 7 {
		st.Status, st.ErrorCode = charger.StatusError, strconv.Itoa(code)
		problems = append(problems, "error (evse_state 7)")
	}
	if len(v.alerts) > 0 {
		problems = append(problems, "alerts: "+strings.Join(v.alerts, ", "))
	}
	st.ErrorText = strings.Join(append(problems, ReadOnlyText), "; ")

	// With the contactor open nothing flows; the sensors still read a few
	// hundred mA of noise (the client's example shows 0.4 A).
	three := v.threePhase(wiring)
	phases := 1
	if three {
		phases = 3
	}
	st.Phases = charger.Ptr(phases)
	val := func(p *float64) float64 {
		if p == nil || !v.contactor {
			return 0
		}
		return math.Max(*p, 0)
	}
	power := 0.0
	if three {
		for i := range 3 {
			a := val(v.amps[i])
			st.Currents = append(st.Currents, a)
			if v.volts[i] != nil {
				st.Voltages = append(st.Voltages, *v.volts[i])
				power += a * *v.volts[i]
			}
		}
	} else {
		a := val(v.vehicleA)
		if v.vehicleA == nil {
			a = val(v.amps[0])
		}
		st.Currents = []float64{a}
		if v.gridV != nil {
			st.Voltages = []float64{*v.gridV}
			power = a * *v.gridV
		}
	}
	st.Power = charger.Ptr(math.Round(power*10) / 10)
	st.SessionEnergy = charger.Ptr(v.sessionWh / 1000)
	if energyWh != nil {
		st.EnergyTotal = charger.Ptr(*energyWh / 1000)
	}
	st.RSSI = rssi
	if len(v.temps) > 0 {
		st.Temperature = charger.Ptr(slices.Max(v.temps))
	}
	return st
}
