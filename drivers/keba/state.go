package keba

import (
	"fmt"
	"math"

	"github.com/evbridge/evbridge/bridge/charger"
)

// phaseThreshold is the current above which a phase counts as in use, mA:
// well under the 6 A minimum a car draws, well over meter noise.
const phaseThreshold = 1000

// state maps the three reports onto the charger model. r1 and r3 may be
// nil (identity not read yet, station without a meter).
func state(r1 *report1, r2 *report2, r3 *report3) charger.State {
	st := charger.State{Identity: charger.Identity{Brand: "KEBA"}}
	if r1 != nil {
		st.Model, st.Serial, st.Firmware = r1.product, r1.serial, r1.firmware
	}
	if st.Serial == "" {
		st.Serial = r2.serial
	}
	st.IEC, st.Status = iecStatus(r2)
	if r2.state == 4 {
		st.ErrorCode = fmt.Sprintf("%d/%d", r2.err1, r2.err2)
		st.ErrorText = fmt.Sprintf("station error %d (detail %d); see the KEBA error code list", r2.err1, r2.err2)
	} else if failsafeTripped(r2) {
		st.ErrorCode = "failsafe"
		st.ErrorText = fmt.Sprintf("failsafe active: no command for %d s, station limited to %.1f A",
			r2.tmoFS, float64(r2.currFS)/1000)
	}
	st.Enabled = charger.Ptr(r2.enableSys || r2.enableUser)
	limit := r2.currUser
	if r2.hasHW && r2.currHW > 0 && r2.currHW < limit {
		limit = r2.currHW
	}
	st.CurrentLimit = charger.Ptr(float64(limit) / 1000)
	if r3 == nil {
		return st
	}
	if r3.p != nil {
		st.Power = charger.Ptr(*r3.p / 1000)
	}
	if all(r3.i[:]) {
		st.Currents = make([]float64, 3)
		n := 0
		for k, v := range r3.i {
			st.Currents[k] = *v / 1000
			if *v > phaseThreshold {
				n++
			}
		}
		// Phases in use are only known while the car draws; 2 is not a
		// setting anyone can choose, so it is left unknown.
		if r2.state == 3 && (n == 1 || n == 3) {
			st.Phases = charger.Ptr(n)
		}
	}
	if all(r3.u[:]) {
		st.Voltages = []float64{*r3.u[0], *r3.u[1], *r3.u[2]}
	}
	if r3.ePres != nil {
		st.SessionEnergy = charger.Ptr(round(*r3.ePres*tenthWhToKWh, 4))
	}
	if r3.eTotl != nil {
		st.EnergyTotal = charger.Ptr(round(*r3.eTotl*tenthWhToKWh, 4))
	}
	return st
}

// iecStatus follows protocols.md §9a: a plug state below 5 (not plugged
// into a car) is A, State 3 is C, State 4 is F, anything else with a car
// is B. Among B: State 1 waiting for an RFID card is "connected"; State 1
// otherwise (disabled), 2 (ready, the car does not draw) and 5 (paused by
// the station) are "paused"; State 0 (starting up) is "connected".
func iecStatus(r *report2) (charger.IECState, charger.Status) {
	switch {
	case r.state == 4:
		return charger.IECF, charger.StatusError
	case r.plug < 5:
		return charger.IECA, charger.StatusNoVehicle
	case r.state == 3:
		return charger.IECC, charger.StatusCharging
	case r.state == 0, r.state == 1 && r.authReq == 1:
		return charger.IECB, charger.StatusConnected
	}
	return charger.IECB, charger.StatusPaused
}

// failsafeTripped is the guide's sign of a fallen failsafe: "Enable sys"
// is 0 and "Max curr" equals "Curr FS" while a timeout is set.
func failsafeTripped(r *report2) bool {
	return r.hasFailsafe && r.tmoFS > 0 && !r.enableSys && r.maxCurr == r.currFS
}

func all(v []*float64) bool {
	for _, p := range v {
		if p == nil {
			return false
		}
	}
	return true
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
