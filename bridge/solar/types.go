package solar

import "time"

// Inputs are the readings for one tick.
type Inputs struct {
	// Grid is the grid meter; the controller cannot work without it.
	Grid GridReading
	// PV is the PV power, W (optional; it improves the house-load estimate
	// used for the site limit).
	PV Optional
	// BatteryPower is the home battery's power, W, positive while it
	// discharges, negative while it charges (optional).
	BatteryPower Optional
	// BatterySoC is the home battery's state of charge, % (optional).
	BatterySoC Optional
	// Chargers are the charger states; matched to Site.Chargers by ID.
	// A configured charger without a state here is treated as offline.
	Chargers []ChargerState
}

// GridReading is one grid meter reading.
type GridReading struct {
	// Power is the grid power, W, import positive.
	Power float64
	// Currents are the per-line currents, A, import positive, when the
	// meter measures them (HasCurrents). With them the site limit counts
	// the house load per line; without them it assumes the whole house
	// load may sit on any one line.
	Currents    [3]float64
	HasCurrents bool
	// Time is when evbridge received the reading (its own clock, so meter
	// clock skew cannot make readings look fresh or stale).
	Time time.Time
	// Valid is false when the meter driver got no reading at all.
	Valid bool
}

// Optional is a value that may be absent.
type Optional struct {
	Value float64
	Valid bool
}

// Some returns a present Optional.
func Some(v float64) Optional { return Optional{Value: v, Valid: true} }

// ChargerState is what the bridge knows about one charger this tick.
type ChargerState struct {
	ID string
	// Connected is true while a car is plugged in (IEC 61851 B, C or D).
	Connected bool
	// Charging is true while the car draws current.
	Charging bool
	// Enabled is whether the charger currently lets the car charge; with
	// Setpoint and Phases it tells a freshly started controller what the
	// charger is doing, so a restart changes nothing until the controller
	// decides to.
	Enabled bool
	// Power is the actual charging power, W; NaN or negative when unknown.
	Power float64
	// Currents are the actual per-phase currents L1..L3, A, when
	// HasCurrents.
	Currents    [3]float64
	HasCurrents bool
	// Setpoint is the current the charger offers now, A.
	Setpoint float64
	// Phases in use now (1 or 3; 0 when unknown).
	Phases int
	// CanSwitchPhases is true when the charger can switch 1↔3 phases.
	CanSwitchPhases bool
	// MinCurrent and MaxCurrent are the device's own range, A; 0 when
	// unknown. They narrow the configured range, never widen it.
	MinCurrent float64
	MaxCurrent float64
	// SessionEnergy is the energy charged in this session, kWh (plan mode).
	SessionEnergy float64
}

// Memory is what Decide carries from one tick to the next. Pass the zero
// Memory on the first call (after a restart too): Decide then adopts what
// each charger is doing.
type Memory struct {
	// MeterBad counts consecutive ticks with a bad grid reading.
	MeterBad int
	// HouseAmps is the last known house load per line, A, used for the
	// site limit while the meter is lost.
	HouseAmps [3]float64
	// Chargers holds per-charger timers, in Site.Chargers order.
	Chargers []ChargerMemory
	// Restored are the contactor times saved before a restart (Timers),
	// used once, when a charger is first seen: see adopt.
	Restored []ChargerMemory
}

// Timers is what of m outlives a restart: the contactor's history (the
// last start, stop and phase switch and whether it was on), not the
// pending-condition timers, which a restart rightly begins again.
func (m Memory) Timers() []ChargerMemory {
	out := make([]ChargerMemory, len(m.Chargers))
	for i, c := range m.Chargers {
		if r, ok := findMem(m.Restored, -1, c.ID); ok && c.Unseen {
			c = r // not seen since the restart: what was saved still stands
		}
		out[i] = ChargerMemory{ID: c.ID, On: c.On, OnSince: c.OnSince, OffSince: c.OffSince, LastSwitch: c.LastSwitch}
	}
	return out
}

// ChargerMemory is one charger's controller state.
type ChargerMemory struct {
	ID string
	// On is whether the controller last let the charger charge; Current
	// and Phases are what it last commanded.
	On      bool
	Current float64
	Phases  int
	// OnSince and OffSince are the times of the last start and stop (zero:
	// not known).
	OnSince  time.Time
	OffSince time.Time
	// Pending-condition timers; zero when the condition does not hold.
	StartSince time.Time
	StopSince  time.Time
	UpSince    time.Time
	DownSince  time.Time
	// LastSwitch is the time of the last phase switch.
	LastSwitch time.Time
	// PlanActive latches plan mode's grid phase (see plan.go).
	PlanActive bool
	// Unseen: adopted while offline (evbridge started before the charger
	// answered), so adopted again once it answers: what it does then is
	// what the controller keeps, not the 0 A an unknown state implies.
	Unseen bool
}

// Decision is the controller's output for one tick.
type Decision struct {
	// Chargers are the per-charger commands, in Site.Chargers order.
	Chargers []ChargerDecision
	// MeterOK is false while the grid reading is bad; Meter says why.
	MeterOK bool
	Meter   string
	// Grid is the grid power used, W.
	Grid float64
	// Surplus is the power available to pv, minpv and plan chargers, W
	// (negative: they would import).
	Surplus float64
	// House is the house load without the chargers, W, as estimated.
	House float64
	// Headroom is what is left under the site limit per line after these
	// decisions, A (+Inf without a site limit, or on the one tick that
	// holds the last commands after a bad reading).
	Headroom [3]float64
}

// ChargerDecision is the command for one charger.
type ChargerDecision struct {
	ID string
	// Current is the current to offer, A per phase; 0 stops charging, any
	// other value is at least the charger's minimum.
	Current float64
	// Enabled is Current > 0, spelled out for drivers with an enable switch.
	Enabled bool
	// Phases to use (1 or 3).
	Phases int
	// Reason says why, for people (Reason.String) and machines (Code).
	Reason Reason
}
