package solar

import (
	"math"
	"time"
)

// Scenario says how to replay a trace: the settings (one car per
// configured charger), when the cars are plugged in, and the car model.
type Scenario struct {
	Site Site
	// CanSwitchPhases is what the chargers report.
	CanSwitchPhases bool
	// PlugFrom and PlugUntil are the time of day the cars are plugged in,
	// in Zone; both zero means always.
	PlugFrom, PlugUntil time.Duration
	Zone                *time.Location
	// From and To bound the replay; zero means the whole trace.
	From, To time.Time
	// NewCar makes the car for charger i (default: a SimpleCar that never
	// fills up).
	NewCar func(i int) Car
	// Battery, when set, simulates a home battery that reacts to the site
	// (charges from export, covers import). Otherwise TraceBattery feeds
	// the trace's recorded battery power and SoC as they were, which only
	// makes sense for a trace recorded with the car; by default the trace's
	// battery is ignored.
	Battery      *HomeBattery
	TraceBattery bool
	// OnTick, when set, sees every tick's powers, W (for plots).
	OnTick func(t time.Time, pv, house, car, grid float64)
}

// HomeBattery is a zero-export home battery: each tick it charges from
// what the site would export and discharges to cover what it would
// import, within its power and capacity (kept between 5 % and 100 %).
type HomeBattery struct {
	CapacityKWh float64
	MaxPower    float64 // W, charging and discharging
	SoC         float64 // %, at the start
}

// step returns the battery power, W (+ discharging), for a site that would
// draw net W from the grid without it, and moves its SoC over h hours.
func (b *HomeBattery) step(net, h float64) float64 {
	if b.CapacityKWh <= 0 {
		return 0
	}
	var p float64
	if net < 0 {
		room := (100 - b.SoC) / 100 * b.CapacityKWh * 1000 / h
		p = -math.Min(math.Min(-net, b.MaxPower), room)
	} else {
		avail := math.Max(0, b.SoC-5) / 100 * b.CapacityKWh * 1000 / h
		p = math.Min(math.Min(net, b.MaxPower), avail)
	}
	b.SoC -= p * h / 1000 / b.CapacityKWh * 100
	return p
}

// StandardScenario is issue 4's standard scenario: one charger, 6–16 A,
// 230 V, switchable 1p/3p, mode pv, car plugged 07:00–19:00 and never
// full, site limit 35 A per phase.
func StandardScenario() Scenario {
	site := DefaultSite()
	site.PhaseLimit = 35
	site.Chargers = []Charger{DefaultCharger("wallbox")}
	return Scenario{Site: site, CanSwitchPhases: true, PlugFrom: 7 * time.Hour, PlugUntil: 19 * time.Hour, Zone: time.UTC}
}

// Report holds a replay's energy figures. The JSON keys are those issue 4
// asks `evbridge simulate --json` to print.
type Report struct {
	Days       float64 `json:"days"`
	PVKWh      float64 `json:"pv_kwh"`
	HouseKWh   float64 `json:"house_kwh"`
	SurplusKWh float64 `json:"surplus_kwh"` // PV above the house load
	CarKWh     float64 `json:"car_kwh"`
	// CarPVKWh is the car energy not drawn from the grid: PV, or a
	// simulated home battery's.
	CarPVKWh float64 `json:"car_pv_kwh"`
	// GridImportKWh is what the cars drew from the grid: per tick the
	// smaller of their power and the site's import.
	GridImportKWh float64 `json:"grid_import_kwh"`
	SiteImportKWh float64 `json:"site_import_kwh"`
	ExportKWh     float64 `json:"export_kwh"`
	Starts        int     `json:"starts"`         // contactor closings
	PhaseSwitches int     `json:"phase_switches"` // switches while charging
	OverLimitS    float64 `json:"over_limit_s"`
	// SetpointChanges counts commands that changed a charger's current.
	SetpointChanges int `json:"setpoint_changes"`
	// OracleKWh is the bound from the trace: while a car is plugged, the
	// surplus PV − house, 0 below the charger's minimum power and capped
	// at its maximum (phases switched ideally).
	OracleKWh float64 `json:"oracle_kwh"`
	// OracleRatio is CarPVKWh / OracleKWh. It can exceed 1: a charger
	// holding its minimum through a dip still puts the PV that is there
	// into the car, which the oracle counts as 0.
	OracleRatio float64 `json:"oracle_ratio"`
	// SelfConsumption is the share of PV used on site, (PV − export) / PV.
	SelfConsumption float64 `json:"self_consumption"`
	Ticks           int     `json:"ticks"`
}

// StartsPerDay is Starts over the days replayed.
func (r Report) StartsPerDay() float64 {
	if r.Days <= 0 {
		return 0
	}
	return float64(r.Starts) / r.Days
}

// Car is the car model behind a simulated charger.
type Car interface {
	// Plug connects (true) or disconnects the car; plugging in starts a
	// new session.
	Plug(plugged bool)
	// Offer is the charger's command.
	Offer(current float64, phases int, enabled bool)
	// Advance moves the car's time on by dt.
	Advance(dt time.Duration)
	// Draw is what the charger's meter sees now: power, W, per-phase
	// currents, A, and the session energy, kWh; full when the battery is.
	Draw() (power float64, amps [3]float64, sessionKWh float64, full bool)
}

// SimpleCar follows the offer one tick late, on the offered phases, from
// 6 A up to its own limit; it models nothing else, which makes a year of
// 2-s ticks cheap. Use drivers/simcar for start delays and ramps.
type SimpleCar struct {
	// MaxCurrent is the car's own limit, A (0: none).
	MaxCurrent float64
	// CapacityKWh fills the car after this session energy (0: never).
	CapacityKWh float64
	Voltage     float64

	plugged      bool
	drawA, pendA float64
	drawP, pendP int
	offP         int // phases of the last offer
	session      float64
}

// Plug implements Car.
func (c *SimpleCar) Plug(p bool) {
	if p && !c.plugged {
		c.session = 0
	}
	c.plugged = p
	if !p {
		c.drawA, c.pendA = 0, 0
	}
}

// Offer implements Car; a phase switch while drawing costs one tick.
func (c *SimpleCar) Offer(a float64, ph int, en bool) {
	if !en || !c.plugged || a < 6 || c.full() {
		a = 0
	}
	if c.MaxCurrent > 0 {
		a = math.Min(a, c.MaxCurrent)
	}
	if ph != c.offP && c.drawA > 0 {
		a = 0 // a phase switch interrupts the charge for a tick
	}
	c.offP = ph
	c.pendA, c.pendP = a, ph
}

// Advance implements Car.
func (c *SimpleCar) Advance(dt time.Duration) {
	p, _, _, _ := c.Draw()
	c.session += p * dt.Hours() / 1000
	c.drawA, c.drawP = c.pendA, c.pendP
}

// Draw implements Car.
func (c *SimpleCar) Draw() (float64, [3]float64, float64, bool) {
	var amps [3]float64
	n := max(1, min(c.drawP, 3))
	for i := 0; i < n && c.drawA > 0; i++ {
		amps[i] = c.drawA
	}
	v := c.Voltage
	if v <= 0 {
		v = 230
	}
	return c.drawA * float64(n) * v, amps, c.session, c.full()
}

func (c *SimpleCar) full() bool { return c.CapacityKWh > 0 && c.session >= c.CapacityKWh }

// Replay runs policy p over the trace at Site.Tick steps and returns the
// energy figures. The grid meter it feeds the policy is the trace's house
// load plus the cars minus PV (and the battery), total power only, always
// fresh. It is deterministic: the same trace, scenario and policy give the
// same report.
func Replay(trace []Sample, sc Scenario, p Policy) Report {
	var r Report
	if len(trace) == 0 {
		return r
	}
	site := sc.Site.withDefaults()
	tick := site.Tick
	zone := sc.Zone
	if zone == nil {
		zone = time.UTC
	}
	from, to := trace[0].Time, trace[len(trace)-1].Time
	if !sc.From.IsZero() && sc.From.After(from) {
		from = sc.From
	}
	if !sc.To.IsZero() && sc.To.Before(to) {
		to = sc.To
	}
	n := len(site.Chargers)
	cars := make([]Car, n)
	for i := range cars {
		if sc.NewCar != nil {
			cars[i] = sc.NewCar(i)
		} else {
			cars[i] = &SimpleCar{Voltage: site.Voltage}
		}
	}
	states := make([]ChargerState, n)
	last := make([]ChargerDecision, n)
	minP, maxP := math.Inf(1), 0.0
	for _, c := range site.Chargers {
		ph := float64(c.Phases)
		if sc.CanSwitchPhases {
			minP = math.Min(minP, c.MinCurrent*site.Voltage)
		} else {
			minP = math.Min(minP, c.MinCurrent*ph*site.Voltage)
		}
		maxP += c.MaxCurrent * ph * site.Voltage
	}
	h := tick.Hours()
	idx := 0
	plugged := false
	for t := from; t.Before(to); t = t.Add(tick) {
		for idx+1 < len(trace) && !trace[idx+1].Time.After(t) {
			idx++
		}
		s := trace[idx]
		if on := pluggedAt(t, sc, zone); on != plugged {
			plugged = on
			for _, c := range cars {
				c.Plug(on)
			}
		}
		var car float64
		var lineA [3]float64
		wants := false
		for i, c := range cars {
			pw, amps, session, full := c.Draw()
			cfg := &site.Chargers[i]
			car += pw
			for k, a := range amps {
				l := k
				if last[i].Phases == 1 {
					l = oneLine(cfg)
				}
				lineA[l] += a
			}
			wants = wants || (plugged && !full)
			states[i] = ChargerState{ID: cfg.ID, Connected: plugged, Charging: pw > 0, Enabled: last[i].Enabled,
				Power: pw, Currents: amps, HasCurrents: true, Setpoint: last[i].Current, Phases: last[i].Phases,
				CanSwitchPhases: sc.CanSwitchPhases, SessionEnergy: session}
		}
		bat := 0.0
		in := Inputs{PV: Some(s.PV)}
		switch {
		case sc.Battery != nil:
			bat = sc.Battery.step(s.House+car-s.PV, h)
			in.BatteryPower, in.BatterySoC = Some(bat), Some(sc.Battery.SoC)
		case sc.TraceBattery && s.Battery.Valid:
			bat = s.Battery.Value
			in.BatteryPower, in.BatterySoC = s.Battery, s.SoC
		}
		grid := s.House + car - s.PV - bat
		in.Grid = GridReading{Power: grid, Time: t, Valid: true}
		in.Chargers = states
		d := p.Step(in, t)
		if sc.OnTick != nil {
			sc.OnTick(t, s.PV, s.House, car, grid)
		}

		r.Ticks++
		r.PVKWh += s.PV * h
		r.HouseKWh += s.House * h
		surplus := s.PV - s.House
		r.SurplusKWh += math.Max(surplus, 0) * h
		r.CarKWh += car * h
		imp := math.Max(grid, 0)
		r.SiteImportKWh += imp * h
		r.ExportKWh += math.Max(-grid, 0) * h
		fromGrid := math.Min(car, imp)
		r.GridImportKWh += fromGrid * h
		r.CarPVKWh += (car - fromGrid) * h
		if wants && surplus >= minP {
			r.OracleKWh += math.Min(surplus, maxP) * h
		}
		if site.PhaseLimit > 0 {
			// Worst case for the fuse: the whole house load on L1, PV
			// spread evenly over the three lines.
			pvA := s.PV / site.Voltage / 3
			l1 := math.Max(s.House-bat, 0)/site.Voltage + lineA[0] - pvA
			if l1 > site.PhaseLimit+1e-6 || lineA[1]-pvA > site.PhaseLimit+1e-6 || lineA[2]-pvA > site.PhaseLimit+1e-6 {
				r.OverLimitS += tick.Seconds()
			}
		}
		for i, c := range cars {
			cd := ChargerDecision{}
			if i < len(d.Chargers) {
				cd = d.Chargers[i]
			}
			if cd.Enabled && !last[i].Enabled {
				r.Starts++
			}
			if cd.Enabled && last[i].Enabled && cd.Phases != last[i].Phases {
				r.PhaseSwitches++
			}
			if cd.Current != last[i].Current {
				r.SetpointChanges++
			}
			last[i] = cd
			c.Offer(cd.Current, cd.Phases, cd.Enabled)
			c.Advance(tick)
		}
	}
	r.Days = to.Sub(from).Hours() / 24
	r.kWh()
	return r
}

// ReplayReport replays the trace with evbridge's controller and with the
// evcc-like baseline (EvccLike), on the same scenario, and returns both
// reports: what `evbridge simulate` prints.
func ReplayReport(trace []Sample, sc Scenario) (ours, baseline Report) {
	ours = Replay(trace, sc, NewController(sc.Site, Memory{}))
	baseline = Replay(trace, sc, NewEvccLike(sc.Site))
	return ours, baseline
}

// kWh converts the sums (Wh) and derives the ratios.
func (r *Report) kWh() {
	for _, v := range []*float64{&r.PVKWh, &r.HouseKWh, &r.SurplusKWh, &r.CarKWh, &r.CarPVKWh,
		&r.GridImportKWh, &r.SiteImportKWh, &r.ExportKWh, &r.OracleKWh} {
		*v /= 1000
	}
	if r.OracleKWh > 0 {
		r.OracleRatio = r.CarPVKWh / r.OracleKWh
	}
	if r.PVKWh > 0 {
		r.SelfConsumption = (r.PVKWh - r.ExportKWh) / r.PVKWh
	}
}

func pluggedAt(t time.Time, sc Scenario, zone *time.Location) bool {
	if sc.PlugFrom == 0 && sc.PlugUntil == 0 {
		return true
	}
	w := t.In(zone)
	tod := time.Duration(w.Hour())*time.Hour + time.Duration(w.Minute())*time.Minute + time.Duration(w.Second())*time.Second
	return tod >= sc.PlugFrom && tod < sc.PlugUntil
}
