// Package simcar models an electric car on a charging cable, for the device
// simulators that sit beside each driver. It behaves like the cars people
// complain about in charger forums: it ignores a pilot below 6 A, takes a
// few seconds to react to a new offer and then ramps to it, draws on one or
// three phases, and stops when its battery is full.
//
// The timing defaults (2 s reaction, 1.5 s ramp time constant) sit inside the
// ranges reported for real cars (start delays of 2–10 s, a first-order ramp of
// a few seconds); see shared notes, style.md §7.
package simcar

import (
	"math"
	"sync"
	"time"
)

// MinCurrent is the IEC 61851 minimum pilot current a car will charge at.
const MinCurrent = 6.0

// Config sets up a car. Zero fields take the defaults shown.
type Config struct {
	// Phases the car's on-board charger can use (1 or 3; default 3).
	Phases int
	// MaxCurrent the on-board charger accepts per phase, A (default 16).
	MaxCurrent float64
	// BatteryKWh capacity (default 60) and SoC at plug-in, % (default 40).
	BatteryKWh float64
	SoC        float64
	// Delay before the car reacts to a new offer (default 2 s).
	Delay time.Duration
	// Tau is the ramp's time constant once it reacts (default 1.5 s).
	Tau time.Duration
	// Voltage per phase, V (default 230).
	Voltage float64
	// Now is the clock; tests pass a fake one (default time.Now).
	Now func() time.Time
}

// Reading is what a charger's meter would see.
type Reading struct {
	Plugged  bool
	Charging bool // drawing current
	Full     bool // battery full, car stopped drawing
	Currents [3]float64
	Voltages [3]float64
	Power    float64 // W
	// SessionWh since plug-in; TotalWh since the car model was made.
	SessionWh float64
	TotalWh   float64
	SoC       float64
}

// Car is safe for concurrent use.
type Car struct {
	mu  sync.Mutex
	cfg Config

	plugged   bool
	offered   float64 // pilot current, A
	phases    int     // phases the EVSE connects
	enabled   bool
	changedAt time.Time // when the offer last changed
	drawn     float64   // current the car draws now, per phase
	last      time.Time
	sessionWh float64
	totalWh   float64
	soc       float64
}

// New returns an unplugged car.
func New(cfg Config) *Car {
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 16
	}
	if cfg.BatteryKWh <= 0 {
		cfg.BatteryKWh = 60
	}
	if cfg.SoC <= 0 {
		cfg.SoC = 40
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 2 * time.Second
	}
	if cfg.Tau <= 0 {
		cfg.Tau = 1500 * time.Millisecond
	}
	if cfg.Voltage <= 0 {
		cfg.Voltage = 230
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	now := cfg.Now()
	return &Car{cfg: cfg, phases: 3, last: now, changedAt: now, soc: cfg.SoC}
}

// Plug connects or disconnects the car. Plugging in starts a new session.
func (c *Car) Plug(plugged bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.advance()
	if plugged && !c.plugged {
		c.sessionWh = 0
		c.soc = c.cfg.SoC
		c.changedAt = now
	}
	c.plugged = plugged
	if !plugged {
		c.drawn = 0
	}
}

// Offer is what the EVSE signals: pilot current, phases it switches in and
// whether charging is allowed. A pilot below 6 A means no charging.
func (c *Car) Offer(amps float64, phases int, enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.advance()
	if amps != c.offered || phases != c.phases || enabled != c.enabled {
		c.changedAt = now
	}
	if phases != c.phases {
		c.drawn = 0 // a phase switch interrupts charging
	}
	c.offered, c.phases, c.enabled = amps, phases, enabled
}

// Read returns the car's present draw and energy.
func (c *Car) Read() Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance()
	r := Reading{Plugged: c.plugged, SessionWh: c.sessionWh, TotalWh: c.totalWh, SoC: c.soc}
	r.Full = c.plugged && c.soc >= 100
	n := c.activePhases()
	for i := 0; i < 3; i++ {
		r.Voltages[i] = c.cfg.Voltage
		if i < n {
			r.Currents[i] = round(c.drawn, 2)
		}
	}
	r.Power = round(c.drawn*c.cfg.Voltage*float64(n), 1)
	r.Charging = c.drawn > 0.1
	return r
}

func (c *Car) activePhases() int {
	if c.phases == 1 || c.cfg.Phases == 1 {
		return 1
	}
	return 3
}

// target is what the car wants to draw for the present offer.
func (c *Car) target() float64 {
	if !c.plugged || !c.enabled || c.offered < MinCurrent || c.soc >= 100 {
		return 0
	}
	return math.Min(c.offered, c.cfg.MaxCurrent)
}

// advance integrates the car from c.last to now; the caller holds c.mu.
func (c *Car) advance() time.Time {
	now := c.cfg.Now()
	dt := now.Sub(c.last)
	if dt <= 0 {
		return now
	}
	// Step in at most 100 ms slices so ramps and energy stay accurate
	// however rarely the car is read.
	const slice = 100 * time.Millisecond
	for t := c.last; t.Before(now); {
		step := slice
		if rest := now.Sub(t); rest < step {
			step = rest
		}
		t = t.Add(step)
		want := c.target()
		if want == 0 {
			c.drawn = 0 // cars stop at once when the pilot goes away
		} else if t.Sub(c.changedAt) >= c.cfg.Delay {
			k := 1 - math.Exp(-step.Seconds()/c.cfg.Tau.Seconds())
			c.drawn += (want - c.drawn) * k
			if math.Abs(want-c.drawn) < 0.05 {
				c.drawn = want
			}
		}
		wh := c.drawn * c.cfg.Voltage * float64(c.activePhases()) * step.Hours()
		c.sessionWh += wh
		c.totalWh += wh
		c.soc = math.Min(100, c.soc+wh/10/c.cfg.BatteryKWh)
	}
	c.last = now
	return now
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
