package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/solar"
)

// control is what a user sets for one charger's controller at runtime; it
// is kept in the state file.
type control struct {
	Mode          string  `json:"mode"`
	PlanEnergy    float64 `json:"plan_energy,omitempty"`
	PlanDeparture string  `json:"plan_departure,omitempty"` // HH:MM, local time
}

const stateControls = "controls"

// siteLoop runs the solar-surplus and load controller: every tick it reads
// the meters' latest values and the chargers' states, calls the pure
// solar.Decide, and sends the resulting setpoints through the same command
// path as MQTT (so every limit check applies to the controller too).
type siteLoop struct {
	b      *Bridge
	cfg    config.Site
	meters map[string]*meterUnit
	ctrl   *solar.Controller

	mu       sync.Mutex
	controls map[string]control
	last     SiteState
	decided  bool
	tuning   siteTuning
	// savedTimers is what the state file holds of the contactor timers;
	// only the tick goroutine touches it after start.
	savedTimers []savedTimer
}

func newSiteLoop(b *Bridge) (*siteLoop, error) {
	s := &siteLoop{b: b, cfg: b.cfg.Site, meters: map[string]*meterUnit{}, controls: map[string]control{}}
	for _, mc := range b.cfg.Meters {
		m, err := newMeterUnit(b, mc)
		if err != nil {
			return nil, err
		}
		s.meters[mc.Name] = m
	}
	if b.store != nil {
		if _, err := b.store.Load(stateTuning, &s.tuning); err != nil {
			b.log.Warn("ignoring saved site settings", "err", err)
			s.tuning = siteTuning{}
		}
		if _, err := b.store.Load(stateControls, &s.controls); err != nil {
			b.log.Warn("ignoring saved charging modes", "err", err)
			s.controls = map[string]control{}
		}
	}
	s.ctrl = solar.NewController(solar.Site{}, solar.Memory{Restored: s.loadTimers()})
	return s, nil
}

func (s *siteLoop) start(ctx context.Context) {
	for _, m := range s.meters {
		s.b.spawn(func() { m.run(ctx) })
	}
	s.b.spawn(func() {
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				s.tick(now)
			}
		}
	})
}

// controlOf returns the charger's runtime settings, defaulting to its
// configured mode.
func (s *siteLoop) controlOf(u *unit) control {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.controlOfLocked(u)
}

// controlOfLocked is controlOf for a caller that holds s.mu.
func (s *siteLoop) controlOfLocked(u *unit) control {
	c, ok := s.controls[u.id]
	if !ok || !solar.Mode(c.Mode).Valid() {
		c.Mode = u.cfg.Mode
		if c.Mode == "" {
			c.Mode = config.DefaultChargerMode
		}
	}
	return c
}

// setControl applies and keeps a mode or plan change.
func (s *siteLoop) setControl(u *unit, cmd Command) {
	s.mu.Lock() // read, change and write back as one step: two commands at once both count
	c := s.controlOfLocked(u)
	if cmd.Mode != nil {
		c.Mode = *cmd.Mode
	}
	if cmd.PlanEnergy != nil {
		c.PlanEnergy = *cmd.PlanEnergy
	}
	if cmd.PlanDeparture != nil {
		c.PlanDeparture = *cmd.PlanDeparture
	}
	s.controls[u.id] = c
	s.mu.Unlock()
	u.b.log.Info("charging mode set", "charger", u.id, "mode", c.Mode, "plan_energy", c.PlanEnergy, "plan_departure", c.PlanDeparture)
	u.setControl("")
	if s.b.store != nil {
		err := s.b.store.Update(stateControls, func() any {
			s.mu.Lock()
			defer s.mu.Unlock()
			return maps.Clone(s.controls)
		})
		if err != nil {
			s.b.log.Warn("charging modes not saved", "err", err)
		}
	}
}

// tick is one control step.
func (s *siteLoop) tick(now time.Time) {
	in := solar.Inputs{}
	if r, at, ok := s.meter(s.cfg.GridMeter); ok && r.Power != nil {
		in.Grid = solar.GridReading{Power: *r.Power, Time: at, Valid: true}
		if len(r.Currents) == 3 {
			in.Grid.HasCurrents = true
			copy(in.Grid.Currents[:], r.Currents)
		}
	}
	if r, _, ok := s.meter(s.cfg.PVMeter); ok && r.Power != nil {
		in.PV = solar.Some(*r.Power)
	}
	if r, _, ok := s.meter(s.cfg.BatteryMeter); ok {
		if r.Power != nil {
			in.BatteryPower = solar.Some(*r.Power)
		}
		if r.SoC != nil {
			in.BatterySoC = solar.Some(*r.SoC)
		}
	}

	site := s.siteSettings()
	units := map[string]*unit{}
	for _, u := range s.b.unitList() {
		units[u.id] = u
		sc, cs, ok := s.chargerInputs(u, now)
		site.Chargers = append(site.Chargers, sc)
		if ok {
			in.Chargers = append(in.Chargers, cs)
		}
	}
	s.ctrl.Site = site
	d := s.ctrl.Step(in, now)
	for _, cd := range d.Chargers {
		if u := units[cd.ID]; u != nil {
			s.apply(u, cd)
		}
		s.b.opts.Observer.ObserveDecision(cd.ID, cd.Current, string(cd.Reason.Code))
	}
	s.publish(in, d, now)
	s.saveTimers()
}

func (s *siteLoop) siteSettings() solar.Site {
	t := s.tuned()
	return solar.Site{Voltage: s.cfg.Voltage, Tick: s.cfg.Tick, MeterMaxAge: s.cfg.MeterMaxAge,
		PhaseLimit: s.cfg.PhaseLimit, SafeCurrent: s.cfg.SafeCurrent, ResidualPower: t.ResidualPower,
		BatteryPrioritySoC: t.BatteryPrioritySoC}
}

// tuned returns the config's values overridden by runtime tuning.
func (s *siteLoop) tuned() (t struct{ StartThreshold, StopThreshold, ResidualPower, BatteryPrioritySoC float64 }) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pick := func(v *float64, def float64) float64 {
		if v != nil {
			return *v
		}
		return def
	}
	t.StartThreshold = pick(s.tuning.StartThreshold, s.cfg.PV.StartThreshold)
	t.StopThreshold = pick(s.tuning.StopThreshold, s.cfg.PV.StopThreshold)
	t.ResidualPower = pick(s.tuning.ResidualPower, s.cfg.ResidualPower)
	t.BatteryPrioritySoC = pick(s.tuning.BatteryPrioritySoC, s.cfg.BatteryPrioritySoC)
	return t
}

// chargerInputs returns the controller settings of u and, when it is
// online, its state.
func (s *siteLoop) chargerInputs(u *unit, now time.Time) (solar.Charger, solar.ChargerState, bool) {
	c := s.controlOf(u)
	pv := s.cfg.PV
	sc := solar.DefaultCharger(u.id)
	sc.Mode = solar.Mode(c.Mode)
	sc.MaxCurrent = u.cfg.MaxCurrent
	sc.Priority = u.cfg.Priority
	if u.cfg.Phases == 1 || u.cfg.Phases == 3 {
		sc.Phases = u.cfg.Phases
	}
	tuned := s.tuned()
	sc.StartThreshold, sc.StopThreshold = tuned.StartThreshold, tuned.StopThreshold
	sc.StartDelay, sc.StopDelay, sc.MinOnTime, sc.MinOffTime = pv.StartDelay, pv.StopDelay, pv.MinOnTime, pv.MinOffTime
	sc.PhaseUpDelay, sc.PhaseDownDelay, sc.PhaseSwitchGap = pv.PhaseUpDelay, pv.PhaseDownDelay, pv.PhaseSwitchGap
	sc.PlanEnergy = c.PlanEnergy
	if dep, err := nextDeparture(c.PlanDeparture, now); err == nil {
		sc.Departure = dep
	}
	cs := solar.ChargerState{ID: u.id, Power: math.NaN()}
	if setter, ok := u.dev.(charger.CurrentSetter); ok {
		lo, hi, step := u.currentRange(setter)
		sc.MinCurrent, sc.Step = max(lo, sc.MinCurrent), step
		cs.MinCurrent, cs.MaxCurrent = lo, hi
	}
	_, cs.CanSwitchPhases = u.dev.(charger.PhaseSwitcher)
	st, polled, online := u.snapshot()
	if !polled || !online {
		return sc, cs, false
	}
	cs.Connected = st.Plug != nil && *st.Plug
	cs.Charging = st.Charging != nil && *st.Charging
	cs.Enabled = st.Enabled == nil || *st.Enabled
	if st.Power != nil {
		cs.Power = *st.Power
	}
	if len(st.Currents) == 3 {
		cs.HasCurrents = true
		copy(cs.Currents[:], st.Currents)
	}
	if st.CurrentLimit != nil {
		cs.Setpoint = *st.CurrentLimit
	}
	if st.Phases != nil {
		cs.Phases = *st.Phases
	}
	if st.SessionEnergy != nil {
		cs.SessionEnergy = *st.SessionEnergy
	}
	return sc, cs, true
}

// apply turns one decision into a command, sent only when it differs from
// what the charger reports, through the validated command path.
func (s *siteLoop) apply(u *unit, cd solar.ChargerDecision) {
	reason := cd.Reason.String()
	st, polled, online := u.snapshot()
	u.setControl(reason)
	if !polled || !online {
		return
	}
	var c Command
	_, canEnable := u.dev.(charger.Enabler)
	setter, canSet := u.dev.(charger.CurrentSetter)
	if cd.Current > 0 {
		if canSet {
			lo, hi, step := u.currentRange(setter)
			cur := math.Min(math.Max(cd.Current, lo), hi)
			if step > 0 {
				cur = math.Floor(cur/step+1e-9) * step
			}
			if st.CurrentLimit == nil || math.Abs(*st.CurrentLimit-cur) > 1e-6 {
				c.CurrentLimit = &cur
			}
		}
		if canEnable && (st.Enabled == nil || !*st.Enabled) {
			c.Enabled = charger.Ptr(true)
		}
		if _, ok := u.dev.(charger.PhaseSwitcher); ok && (cd.Phases == 1 || cd.Phases == 3) && (st.Phases == nil || *st.Phases != cd.Phases) {
			c.Phases = charger.Ptr(cd.Phases)
		}
	} else if canEnable && (st.Enabled == nil || *st.Enabled) {
		c.Enabled = charger.Ptr(false)
	}
	if c.Empty() {
		return
	}
	if err := u.submit(c, "controller"); err != nil {
		s.b.log.Warn("controller command refused", "charger", u.id, "err", err)
	}
}

// SiteState is the JSON on `<base>/site/state`.
type SiteState struct {
	GridPower    *float64  `json:"grid_power"`
	PVPower      *float64  `json:"pv_power,omitempty"`
	BatteryPower *float64  `json:"battery_power,omitempty"`
	BatterySoC   *float64  `json:"battery_soc,omitempty"`
	HousePower   float64   `json:"house_power"`
	Surplus      float64   `json:"surplus"`
	PhaseLimit   float64   `json:"phase_limit"`
	Headroom     []float64 `json:"headroom,omitempty"`
	MeterOK      bool      `json:"meter_ok"`
	// The settings users tune at runtime, as in force.
	StartThreshold     float64                `json:"start_threshold"`
	StopThreshold      float64                `json:"stop_threshold"`
	ResidualPower      float64                `json:"residual_power"`
	BatteryPrioritySoC float64                `json:"battery_priority_soc"`
	MeterReason        string                 `json:"meter_reason"`
	Chargers           map[string]SiteCharger `json:"chargers"`
	Time               string                 `json:"time"`
}

// SiteCharger is the controller's decision for one charger.
type SiteCharger struct {
	Mode    string  `json:"mode"`
	Current float64 `json:"current"`
	Enabled bool    `json:"enabled"`
	Phases  int     `json:"phases"`
	Reason  string  `json:"reason"`
}

func (s *siteLoop) publish(in solar.Inputs, d solar.Decision, now time.Time) {
	st := SiteState{HousePower: round1(d.House), Surplus: round1(d.Surplus), PhaseLimit: s.cfg.PhaseLimit,
		MeterOK: d.MeterOK, MeterReason: "ok", Chargers: map[string]SiteCharger{}, Time: now.UTC().Format(time.RFC3339)}
	tuned := s.tuned()
	st.StartThreshold, st.StopThreshold = tuned.StartThreshold, tuned.StopThreshold
	st.ResidualPower, st.BatteryPrioritySoC = tuned.ResidualPower, tuned.BatteryPrioritySoC
	if in.Grid.Valid {
		st.GridPower = charger.Ptr(in.Grid.Power)
	}
	if in.PV.Valid {
		st.PVPower = charger.Ptr(in.PV.Value)
	}
	if in.BatteryPower.Valid {
		st.BatteryPower = charger.Ptr(in.BatteryPower.Value)
	}
	if in.BatterySoC.Valid {
		st.BatterySoC = charger.Ptr(in.BatterySoC.Value)
	}
	if !d.MeterOK {
		st.MeterReason = d.Meter
	}
	if s.cfg.PhaseLimit > 0 && !math.IsInf(d.Headroom[0], 0) {
		st.Headroom = []float64{round1(d.Headroom[0]), round1(d.Headroom[1]), round1(d.Headroom[2])}
	}
	for i, cd := range d.Chargers {
		mode := ""
		if i < len(s.ctrl.Site.Chargers) {
			mode = string(s.ctrl.Site.Chargers[i].Mode)
		}
		st.Chargers[cd.ID] = SiteCharger{Mode: mode, Current: cd.Current, Enabled: cd.Enabled, Phases: cd.Phases, Reason: cd.Reason.String()}
	}
	s.mu.Lock()
	s.last, s.decided = st, true
	s.mu.Unlock()
	payload, err := json.Marshal(st)
	if err != nil {
		s.b.log.Error("encode site state", "err", err)
		return
	}
	if s.b.link != nil {
		s.b.link.publish(s.b.base+"/site/state", 0, true, payload)
	}
}

func round1(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*10) / 10
}

// nextDeparture turns "HH:MM" into its next occurrence after now, in local
// time.
func nextDeparture(hhmm string, now time.Time) (time.Time, error) {
	if hhmm == "" {
		return time.Time{}, fmt.Errorf("no departure")
	}
	t, err := time.ParseInLocation("15:04", strings.TrimSpace(hhmm), now.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("departure %q: expected HH:MM", hhmm)
	}
	dep := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
	if !dep.After(now) {
		dep = dep.AddDate(0, 0, 1)
	}
	return dep, nil
}

// meter returns the named meter's last good reading and when it was
// fresh; ok is false when there is none.
func (s *siteLoop) meter(name string) (r meterReading, at time.Time, ok bool) {
	if name == "" {
		return meterReading{}, time.Time{}, false
	}
	m := s.meters[name]
	if m == nil {
		return meterReading{}, time.Time{}, false
	}
	return m.latest()
}
