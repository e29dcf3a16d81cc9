package ocpp

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// statusMap maps an OCPP 1.6 ChargePointStatus (2.0.1 states are mapped to
// these first, see v201.go) to the pilot state and the user status. The
// pilot state is inferred: OCPP does not report it.
var statusMap = map[string]struct {
	iec    charger.IECState
	status charger.Status
}{
	"Available":     {charger.IECA, charger.StatusNoVehicle},
	"Preparing":     {charger.IECB, charger.StatusConnected},
	"Charging":      {charger.IECC, charger.StatusCharging},
	"SuspendedEVSE": {charger.IECB, charger.StatusPaused},
	"SuspendedEV":   {charger.IECB, charger.StatusPaused},
	"Finishing":     {charger.IECB, charger.StatusComplete},
	"Reserved":      {charger.IECA, charger.StatusNoVehicle},
	"Unavailable":   {charger.IECA, charger.StatusUnavailable},
	"Faulted":       {charger.IECF, charger.StatusError},
}

// chargingCurrent is the phase current above which a phase counts as used.
const chargingCurrent = 1.0

// stateLocked builds the reading of connector n; the caller holds s.mu.
// Meter values older than stale are not shown as present power.
func (s *Session) stateLocked(n int, stale time.Duration, now time.Time) charger.State {
	c := s.connector(n)
	st := charger.State{Identity: s.identity}
	status, code, info := c.status, c.errorCode, c.errorInfo
	if ss := s.station.status; (ss == "Faulted" || ss == "Unavailable") && status != "Faulted" {
		// The station as a whole (connector 0) overrides its connectors.
		status, code, info = ss, s.station.errorCode, s.station.errorInfo
	}
	if m, ok := statusMap[status]; ok {
		st.IEC, st.Status = m.iec, m.status
	} else {
		st.IEC, st.Status = charger.IECUnknown, charger.StatusUnknown
	}
	if code != "" && code != "NoError" {
		st.ErrorCode, st.ErrorText = code, info
	}

	switch {
	case c.enabled != nil:
		st.Enabled = ptr(*c.enabled)
	case status == "SuspendedEVSE":
		st.Enabled = ptr(false)
	case status == "Charging" || status == "SuspendedEV":
		st.Enabled = ptr(true)
	}
	m := &c.meter
	if m.at.IsZero() && !s.station.meter.at.IsZero() && len(s.conns) <= 1 {
		// Single-connector charge points may report the station meter
		// (connector 0) only.
		m = &s.station.meter
	}
	switch {
	case c.limit != nil:
		st.CurrentLimit = ptr(*c.limit)
	case m.offered != nil:
		st.CurrentLimit = ptr(*m.offered)
	}

	// The car's SoC holds while it stays plugged in, also when charging
	// is done and the charge point stops sending meter values.
	if m.soc != nil && status != "Available" {
		st.VehicleSoC = ptr(*m.soc)
	}

	idle := status != "" && status != "Charging"
	// Values from before an idle status began (the car was unplugged, or
	// charging paused) no longer describe the connector.
	fresh := !m.at.IsZero() && now.Sub(m.at) <= stale && !(idle && m.at.Before(c.statusAt))
	switch {
	case fresh && m.power != nil:
		st.Power = ptr(*m.power)
	case idle:
		st.Power = ptr(0.0)
	}
	if fresh || idle {
		st.Currents = phaseValues(m.currents, idle && !fresh)
	}
	if fresh {
		st.Voltages = phaseValues(m.voltages, false)
		if m.temp != nil {
			st.Temperature = ptr(*m.temp)
		}
	}
	used := 0
	for _, a := range st.Currents {
		if a > chargingCurrent {
			used++
		}
	}
	switch {
	case used > 0 && status == "Charging":
		st.Phases = ptr(used)
	case c.phases > 0:
		st.Phases = ptr(c.phases)
	}

	if m.energyWh != nil {
		st.EnergyTotal = ptr(round3(*m.energyWh / 1000))
	}
	switch {
	case c.tx != nil && c.tx.startWh != nil && m.energyWh != nil:
		st.SessionEnergy = ptr(round3(math.Max(0, *m.energyWh-*c.tx.startWh) / 1000))
	case c.tx != nil && c.tx.startWh != nil:
		st.SessionEnergy = ptr(0.0)
	case c.tx != nil:
		// Adopted after a restart: the start register is unknown.
	case c.lastWh != nil:
		st.SessionEnergy = ptr(round3(*c.lastWh / 1000))
	}
	return st
}

// phaseValues turns per-phase readings into the model's slice: nil when
// none was reported; zeros instead of the values when zero is set.
func phaseValues(v [3]*float64, zero bool) []float64 {
	if v[0] == nil && v[1] == nil && v[2] == nil {
		if zero {
			return []float64{0, 0, 0}
		}
		return nil
	}
	out := make([]float64, 3)
	for i, p := range v {
		if p != nil && !zero {
			out[i] = *p
		}
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
