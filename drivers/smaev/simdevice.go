package smaev

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// totalWhStart is the simulated meter's lifetime energy before this run.
const totalWhStart = 1234567.0

// device is the charger's state; the Simulator's mutex guards it.
type device struct {
	mode    string  // ActChaMod
	limit   float64 // AcALim, A
	eco     bool    // rotary switch in the eco position
	appLock bool
	plugged bool

	// Meter and charging state, refreshed once per tick.
	state   int
	power   float64    // W
	phase   [3]float64 // A, negative while charging, as the device sends
	sessWh  float64
	totalWh float64
	ticks   uint64
	at      time.Time // time of the last reading

	access  map[string]time.Time // access token → expiry
	refresh map[string]time.Time // refresh token → expiry

	logins, refreshes, puts int
}

func newDevice(cfg SimConfig) device {
	e := device{limit: cfg.MaxCurrent, eco: cfg.Eco, appLock: cfg.AppLock, state: stateA, totalWh: totalWhStart,
		access: map[string]time.Time{}, refresh: map[string]time.Time{}}
	e.mode = e.switchMode()
	return e
}

// switchMode is the charging mode the rotary switch stands for.
func (e *device) switchMode() string {
	if e.eco {
		return modeOptimised
	}
	return modeFast
}

// possibleModes are the ActChaMod values the device takes now: in the eco
// position there is no fast charging (pysmaev's fixture).
func (e *device) possibleModes() []string {
	if e.eco {
		return []string{modeOptimised, modePlanned, modeStop}
	}
	return []string{modeFast, modeOptimised, modePlanned, modeStop}
}

// offer tells the car what the charger allows now. Optimised and planned
// charging need a Sunny Home Manager, which is not simulated: only fast
// charging charges.
func (e *device) offer(cfg SimConfig, car *simcar.Car) {
	car.Offer(e.limit, cfg.phases(), e.plugged && e.mode == modeFast && !e.eco && !e.appLock)
}

// tick reads the meter and the car.
func (e *device) tick(cfg SimConfig, car *simcar.Car) {
	e.offer(cfg, car)
	r := car.Read()
	switch {
	case !r.Plugged:
		e.state = stateA
	case e.appLock:
		e.state = stateLocked
	case r.Charging:
		e.state = stateC
	default:
		e.state = stateB
	}
	e.power = r.Power
	for i := range e.phase {
		e.phase[i] = 0
		if r.Currents[i] != 0 {
			e.phase[i] = -r.Currents[i]
		}
	}
	e.sessWh = math.Round(r.SessionWh)
	e.totalWh = math.Round(totalWhStart + r.TotalWh)
	e.at = cfg.Car.Now()
	e.ticks++
}

// issue makes a new token pair.
func (e *device) issue(cfg SimConfig, now time.Time) (access, refresh string) {
	access, refresh = randomToken(), randomToken()
	e.access[access] = now.Add(cfg.TokenLifetime)
	e.refresh[refresh] = now.Add(cfg.RefreshLifetime)
	return access, refresh
}

// authorized reports whether access is a live token; expired ones go.
func (e *device) authorized(access string, now time.Time) bool {
	exp, ok := e.access[access]
	if ok && !now.Before(exp) {
		delete(e.access, access)
		return false
	}
	return ok
}

// useRefresh spends a refresh token: it is valid once.
func (e *device) useRefresh(refresh string, now time.Time) bool {
	exp, ok := e.refresh[refresh]
	delete(e.refresh, refresh)
	return ok && now.Before(exp)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// formatAmps is AcALim as the device writes it: two decimals.
func formatAmps(a float64) string { return strconv.FormatFloat(a, 'f', 2, 64) }

// SimSnapshot is what the simulated charger shows now.
type SimSnapshot struct {
	State     int        // ChaStt: 200111 A, 200112 B, 200113 C, 5169 locked
	Mode      string     // ActChaMod
	Limit     float64    // AcALim, A
	Eco       bool       // rotary switch in the eco position
	AppLock   bool       //
	Plugged   bool       //
	Power     float64    // W
	Phase     [3]float64 // A, as sent (negative while charging)
	SessionWh float64
	TotalWh   float64
	// Logins, Refreshes and Puts count granted logins, granted refreshes
	// and accepted parameter writes.
	Logins, Refreshes, Puts int
	// Tokens is the number of access tokens issued and not known expired.
	Tokens int
	// Tick counts meter readings; equal ticks mean equal readings.
	Tick uint64
}

func (e *device) snapshot() SimSnapshot {
	return SimSnapshot{State: e.state, Mode: e.mode, Limit: e.limit, Eco: e.eco, AppLock: e.appLock,
		Plugged: e.plugged, Power: e.power, Phase: e.phase, SessionWh: e.sessWh, TotalWh: e.totalWh,
		Logins: e.logins, Refreshes: e.refreshes, Puts: e.puts, Tokens: len(e.access), Tick: e.ticks}
}

// measurements is the live measurement list: the channels the driver
// reads and one it does not (EVeh.Health 307 "ok", pysmaev's fixture).
func (e *device) measurements() []map[string]any {
	sw := switchFast
	if e.eco {
		sw = switchEco
	}
	ts := e.at.UTC().Format(timestampLayout)
	var out []map[string]any
	add := func(ch string, v float64) {
		out = append(out, map[string]any{"channelId": ch, "componentId": component,
			"values": []map[string]any{{"time": ts, "value": v}}})
	}
	add(chEnergySess, e.sessWh)
	add(chSwitch, float64(sw))
	add("Measurement.Operation.EVeh.Health", 307)
	add(chState, float64(e.state))
	add(chPower, e.power)
	add(chEnergyTotal, e.totalWh)
	for i, ch := range [...]string{chPhaseA, chPhaseB, chPhaseC} {
		add(ch, e.phase[i])
	}
	return out
}

// simParam is one parameter the simulated charger lists.
type simParam struct {
	id       string
	editable bool
	possible []string
	value    string
}

func (e *device) parameters(cfg SimConfig) []simParam {
	lock := lockOff
	if e.appLock {
		lock = lockOn
	}
	return []simParam{
		{chMode, true, e.possibleModes(), e.mode},
		{chCurrentLimit, true, nil, formatAmps(e.limit)},
		{chAppLock, true, []string{lockOn, lockOff}, lock},
		{"Parameter.Chrg.Plan.DurTmm", true, nil, "0"},
		{chModel, false, nil, cfg.Model},
		{chFirmware, false, nil, cfg.Firmware},
		{chSerial, false, nil, cfg.Serial},
		{"Parameter.Nameplate.Vendor", false, nil, "461"},
	}
}

func (e *device) parametersJSON(cfg SimConfig, at time.Time) []map[string]any {
	ts := at.UTC().Format(timestampLayout)
	var values []map[string]any
	for _, p := range e.parameters(cfg) {
		v := map[string]any{"channelId": p.id, "editable": p.editable, "state": "Confirmed",
			"timestamp": ts, "value": p.value}
		if p.possible != nil {
			v["possibleValues"] = slices.Clone(p.possible)
		}
		values = append(values, v)
	}
	return []map[string]any{{"componentId": component, "values": values}}
}
