package bridge

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// PublishedState is the JSON published retained on `<base>/<charger>/state`:
// the driver's reading plus what the bridge knows about the link.
type PublishedState struct {
	charger.State
	// Plug is whether a car is connected (IEC B, C or D).
	Plug *bool `json:"plug,omitempty"`
	// Charging is whether the car draws current (IEC C or D).
	Charging *bool `json:"charging,omitempty"`
	// IP is the address evbridge reaches the charger at.
	IP string `json:"ip,omitempty"`
	// PollLatency is the duration of the last successful poll, ms.
	PollLatency float64 `json:"poll_latency"`
	// LastError is the last failed poll or command, "" once healthy.
	LastError string `json:"last_error"`
	// LinkProblem is true while polls fail or RSSI stays below -75 dBm.
	LinkProblem bool `json:"link_problem"`
	// LastSeen is when the charger last answered (RFC 3339).
	LastSeen string `json:"last_seen,omitempty"`
	// Mode, ControlReason and the plan come from the solar controller.
	Mode          string   `json:"mode,omitempty"`
	ControlReason string   `json:"control_reason,omitempty"`
	PlanEnergy    *float64 `json:"plan_energy,omitempty"`
	PlanDeparture string   `json:"plan_departure,omitempty"`
}

func newPublishedState(s charger.State) PublishedState {
	p := PublishedState{State: s}
	switch s.IEC {
	case charger.IECA:
		p.Plug, p.Charging = charger.Ptr(false), charger.Ptr(false)
	case charger.IECB, charger.IECE, charger.IECF:
		p.Plug, p.Charging = charger.Ptr(s.IEC == charger.IECB), charger.Ptr(false)
	case charger.IECC, charger.IECD:
		p.Plug, p.Charging = charger.Ptr(true), charger.Ptr(true)
	}
	return p
}

// Deadbands: a change smaller than these does not trigger a publish (the
// 60 s refresh still carries it). They keep MQTT quiet while a car charges
// steadily, without hiding anything a person or a controller would act on.
const (
	deadbandPower   = 20    // W
	deadbandCurrent = 0.2   // A
	deadbandVoltage = 2     // V
	deadbandEnergy  = 0.01  // kWh
	deadbandRSSI    = 3     // dB
	deadbandLatency = 250.0 // ms
)

// significantChange reports whether next differs from prev enough to publish.
func significantChange(prev, next PublishedState) bool {
	a, b := prev.State, next.State
	if a.IEC != b.IEC || a.Status != b.Status || a.ErrorCode != b.ErrorCode || a.ErrorText != b.ErrorText ||
		a.Identity != b.Identity {
		return true
	}
	if !eqPtr(a.Enabled, b.Enabled) || !eqPtr(a.Phases, b.Phases) || !eqPtr(prev.Plug, next.Plug) ||
		!eqPtr(prev.Charging, next.Charging) {
		return true
	}
	if prev.IP != next.IP || prev.LastError != next.LastError || prev.LinkProblem != next.LinkProblem ||
		prev.Mode != next.Mode || prev.ControlReason != next.ControlReason || !eqPtr(prev.PlanEnergy, next.PlanEnergy) ||
		prev.PlanDeparture != next.PlanDeparture {
		return true
	}
	if !near(a.CurrentLimit, b.CurrentLimit, 0.01) || !near(a.Power, b.Power, deadbandPower) ||
		!near(a.SessionEnergy, b.SessionEnergy, deadbandEnergy) || !near(a.EnergyTotal, b.EnergyTotal, deadbandEnergy) ||
		!near(a.RSSI, b.RSSI, deadbandRSSI) || !near(a.Temperature, b.Temperature, 1) || !near(a.VehicleSoC, b.VehicleSoC, 1) {
		return true
	}
	if !nearSlice(a.Currents, b.Currents, deadbandCurrent) || !nearSlice(a.Voltages, b.Voltages, deadbandVoltage) {
		return true
	}
	return math.Abs(prev.PollLatency-next.PollLatency) >= deadbandLatency
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func near(a, b *float64, band float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < band
}

func nearSlice(a, b []float64, band float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) >= band {
			return false
		}
	}
	return true
}

// refreshEvery is how often the full state is published even when nothing
// changed, so a late subscriber without retained messages catches up.
const refreshEvery = 60 * time.Second
