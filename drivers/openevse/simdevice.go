package openevse

import (
	"math"
	"slices"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// Claim resolution as the firmware does it (src/evse_man.h, evse_man.cpp).
const (
	clientManual     = 1<<16 | 1 // EvseClient_OpenEVSE_Manual
	priorityAPI      = 500       // HTTP claims (EvseManager_Priority_API)
	priorityManual   = 1000      // manual override
	maxClaims        = 10        // EVSE_MANAGER_MAX_CLIENT_CLAIMS
	totalEnergyStart = 1234.5    // kWh on the simulated meter before this run
)

// SimClaim is one claim the simulated charger holds. Zero currents are
// not claimed; State "" is not claimed.
type SimClaim struct {
	Client        uint32
	Priority      int
	State         string
	ChargeCurrent int
	MaxCurrent    int
	AutoRelease   bool
}

// evse is the charger's state; the Simulator's mutex guards it.
type evse struct {
	claims [maxClaims]*SimClaim // slots, nil when free

	claimsVersion, overrideVersion, configVersion int
	plugged                                       bool
	fault                                         int // EVSE error state 5..11, 0 none

	// Resolved from the claims at once (the manager wakes on a claim).
	active                             bool
	pilot, maxCurrent                  int
	stateClient, chargeClient, maxClnt uint32 // 0: no claim sets it

	// Meter and EVSE state, refreshed once per tick.
	state     int
	amps      float64 // A
	volts     float64
	watts     float64
	sessionWh float64
	totalKWh  float64
	temp      float64 // 0.1 °C
	ticks     uint64
	started   time.Time
}

// resolve applies the claims: per property the highest priority that
// sets it wins (the earlier slot on a tie); the pilot is the smallest of
// max_current_soft, the winning max_current and charge_current, raised to
// min_current_hard.
func (e *evse) resolve(cfg SimConfig) {
	e.active = true
	var sp, cp, mp int
	charge, maxc := math.MaxInt, math.MaxInt
	e.stateClient, e.chargeClient, e.maxClnt = 0, 0, 0
	for _, c := range e.claims {
		if c == nil {
			continue
		}
		if c.Priority > sp && c.State != "" {
			e.active, sp, e.stateClient = c.State == "active", c.Priority, c.Client
		}
		if c.Priority > cp && c.ChargeCurrent > 0 {
			charge, cp, e.chargeClient = c.ChargeCurrent, c.Priority, c.Client
		}
		if c.Priority > mp && c.MaxCurrent > 0 {
			maxc, mp, e.maxClnt = c.MaxCurrent, c.Priority, c.Client
		}
	}
	e.maxCurrent = min(cfg.MaxCurrentSoft, maxc)
	e.pilot = max(min(cfg.MaxCurrentSoft, maxc, charge), cfg.MinCurrentHard)
}

// claim adds or replaces client's claim; false when every slot is taken.
func (e *evse) claim(c SimClaim) bool {
	slot := -1
	for i, have := range e.claims {
		if have != nil && have.Client == c.Client {
			slot = i
			break
		}
		if have == nil && slot < 0 {
			slot = i
		}
	}
	if slot < 0 {
		return false
	}
	if e.claims[slot] == nil || *e.claims[slot] != c {
		e.claims[slot] = &c
		e.bump(c.Client)
	}
	return true
}

// release drops client's claim; false when it holds none.
func (e *evse) release(client uint32) bool {
	for i, c := range e.claims {
		if c != nil && c.Client == client {
			e.claims[i] = nil
			e.bump(client)
			return true
		}
	}
	return false
}

func (e *evse) bump(client uint32) {
	e.claimsVersion++
	if client == clientManual {
		e.overrideVersion++
	}
}

func (e *evse) find(client uint32) *SimClaim {
	for _, c := range e.claims {
		if c != nil && c.Client == client {
			return c
		}
	}
	return nil
}

// unplugged ends the session: claims made with auto_release go.
func (e *evse) unplugged() {
	for _, c := range e.claims {
		if c != nil && c.AutoRelease {
			e.release(c.Client)
		}
	}
}

// offer tells the car what the EVSE allows now.
func (e *evse) offer(cfg SimConfig, car *simcar.Car) {
	car.Offer(float64(e.pilot), cfg.phases(), e.active && e.fault == 0)
}

// tick is the gateway reading the EVSE controller: state and meter.
func (e *evse) tick(cfg SimConfig, car *simcar.Car) {
	e.offer(cfg, car)
	r := car.Read()
	switch {
	case e.fault != 0:
		e.state = e.fault
	case !e.active:
		e.state = 254 // sleeping: how the firmware pauses by default
	case !r.Plugged:
		e.state = 1
	case r.Charging:
		e.state = 3
	default:
		e.state = 2
	}
	e.amps, e.volts = r.Currents[0], r.Voltages[0]
	e.watts = r.Power
	e.sessionWh = math.Round(r.SessionWh*100) / 100
	e.totalKWh = math.Round((totalEnergyStart+r.TotalWh/1000)*1000) / 1000
	e.temp = math.Round(285 + r.Power/100)
	e.ticks++
}

func (e *evse) claimList() []SimClaim {
	var out []SimClaim
	for _, c := range e.claims {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// SimSnapshot is what the simulated charger shows now.
type SimSnapshot struct {
	State          int // EVSE state: 1 no car, 2 connected, 3 charging, 254 sleeping, 5..11 faults
	Vehicle        bool
	Status         string // "active" or "disabled": the resolved claims
	Pilot          int    // A
	MaxCurrent     int    // A
	Amps, Volts    float64
	Power          float64 // W
	SessionWh      float64
	TotalKWh       float64
	Temp           float64 // 0.1 °C
	ManualOverride bool
	Claims         []SimClaim
	// ClaimsVersion and OverrideVersion count claim changes, as /status.
	ClaimsVersion, OverrideVersion int
	// Tick counts meter readings; equal ticks mean equal readings.
	Tick uint64
}

func (e *evse) snapshot() SimSnapshot {
	status := "disabled"
	if e.active {
		status = "active"
	}
	return SimSnapshot{
		State: e.state, Vehicle: e.plugged, Status: status, Pilot: e.pilot, MaxCurrent: e.maxCurrent,
		Amps: e.amps, Volts: e.volts, Power: e.watts, SessionWh: e.sessionWh, TotalKWh: e.totalKWh,
		Temp: e.temp, ManualOverride: e.find(clientManual) != nil, Claims: slices.Clone(e.claimList()),
		ClaimsVersion: e.claimsVersion, OverrideVersion: e.overrideVersion, Tick: e.ticks,
	}
}

// toggleOverride is the firmware's override toggle: release an active
// override, else override to the opposite of the present state.
func (e *evse) toggleOverride(cfg SimConfig) {
	if !e.release(clientManual) {
		state := "active"
		if e.active {
			state = "disabled"
		}
		e.claim(SimClaim{Client: clientManual, Priority: priorityManual, State: state, AutoRelease: true})
	}
	e.resolve(cfg)
}
