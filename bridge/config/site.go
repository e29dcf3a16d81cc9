package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/solar"
)

// Site configures solar-surplus charging and the site limit. The controller
// runs only when GridMeter names a meter; without one evbridge only relays
// commands.
type Site struct {
	// GridMeter is the name of the meter at the grid connection (import
	// positive after its invert setting). It turns the controller on.
	GridMeter string `yaml:"grid_meter"`
	// PVMeter is the name of the PV production meter (optional).
	PVMeter string `yaml:"pv_meter"`
	// BatteryMeter is the name of the home battery's meter: power positive
	// while discharging, and its state of charge (optional).
	BatteryMeter string `yaml:"battery_meter"`
	// PhaseLimit is the main fuse in amperes per phase, shared by all
	// chargers and the house; 0 means no site limit.
	PhaseLimit float64 `yaml:"phase_limit"`
	// SafeCurrent is what every charging charger falls back to, in amperes,
	// within two ticks of losing the grid meter; 0 stops them.
	SafeCurrent float64 `yaml:"safe_current"`
	// Voltage is the nominal phase voltage, V.
	Voltage float64 `yaml:"voltage"`
	// Tick is how often the controller decides, between 1s and 1m.
	Tick time.Duration `yaml:"tick"`
	// MeterMaxAge is how old a grid reading may be before it counts as lost.
	MeterMaxAge time.Duration `yaml:"meter_max_age"`
	// ResidualPower, W, is kept back from the surplus as a margin.
	ResidualPower float64 `yaml:"residual_power"`
	// BatteryPrioritySoC gives the home battery priority below this state
	// of charge, %; 0 turns it off.
	BatteryPrioritySoC float64 `yaml:"battery_priority_soc"`
	// PV tunes surplus charging for every charger.
	PV PVTuning `yaml:"pv"`
}

// PVTuning holds the thresholds and timers of surplus charging.
type PVTuning struct {
	// StartThreshold is the surplus, W, beyond a charger's minimum power
	// needed before a start.
	StartThreshold float64 `yaml:"start_threshold"`
	// StopThreshold is the shortfall, W, tolerated before the stop timer runs.
	StopThreshold float64 `yaml:"stop_threshold"`
	// StartDelay and StopDelay are how long those conditions must hold.
	StartDelay time.Duration `yaml:"start_delay"`
	StopDelay  time.Duration `yaml:"stop_delay"`
	// MinOnTime and MinOffTime protect the contactors.
	MinOnTime  time.Duration `yaml:"min_on_time"`
	MinOffTime time.Duration `yaml:"min_off_time"`
	// PhaseUpDelay and PhaseDownDelay are how long surplus must call for 3
	// or 1 phases before a switch; PhaseSwitchGap is the least time
	// between two switches.
	PhaseUpDelay   time.Duration `yaml:"phase_up_delay"`
	PhaseDownDelay time.Duration `yaml:"phase_down_delay"`
	PhaseSwitchGap time.Duration `yaml:"phase_switch_gap"`
}

// Meter is one grid, PV or battery meter.
type Meter struct {
	// Name is the meter's id, referred to by site.grid_meter and the like.
	Name string `yaml:"name"`
	// Driver is the registered meter driver.
	Driver string `yaml:"driver"`
	// Address is host, host:port or, for drivers that need none (an MQTT
	// topic), empty.
	Address string `yaml:"address"`
	// Invert flips the sign of power and currents, for a meter that counts
	// export as positive.
	Invert bool `yaml:"invert"`
	// Scale multiplies power and currents (e.g. 1000 for a meter in kW).
	Scale float64 `yaml:"scale"`
	// PollInterval is how often the meter is read (default 2s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds one read (default 2s, at most PollInterval).
	Timeout time.Duration `yaml:"timeout"`
	// Options is the decoded driver options block.
	Options any `yaml:"-"`
	// Line is the line of this entry in the file.
	Line int `yaml:"-"`
}

// Defaults of the site and meters.
const (
	DefaultSafeCurrent  = 6.0
	DefaultVoltage      = 230.0
	DefaultTick         = 2 * time.Second
	DefaultMeterMaxAge  = 10 * time.Second
	DefaultMeterPoll    = 2 * time.Second
	DefaultChargerMode  = "now"
	DefaultChargerPhase = 3
)

// ChargerModes are the values of a charger's mode.
var ChargerModes = []string{"off", "now", "minpv", "pv", "plan"}

// SiteEnabled reports whether the solar and load controller runs.
func (c *Config) SiteEnabled() bool { return c.Site.GridMeter != "" }

func defaultSite() Site {
	c := solar.DefaultCharger("")
	return Site{SafeCurrent: DefaultSafeCurrent, Voltage: DefaultVoltage, Tick: DefaultTick, MeterMaxAge: DefaultMeterMaxAge,
		PV: PVTuning{StartThreshold: c.StartThreshold, StopThreshold: c.StopThreshold, StartDelay: c.StartDelay,
			StopDelay: c.StopDelay, MinOnTime: c.MinOnTime, MinOffTime: c.MinOffTime, PhaseUpDelay: c.PhaseUpDelay,
			PhaseDownDelay: c.PhaseDownDelay, PhaseSwitchGap: c.PhaseSwitchGap}}
}

func (m *Meter) setDefaults() {
	m.Scale = 1
	m.PollInterval = unset
	m.Timeout = unset
}

// meters fills in each meter's defaults and decodes its options.
func (d *decoder) meters(cfg *Config, reg *meter.Registry) {
	for i := range cfg.Meters {
		m := &cfg.Meters[i]
		p := fmt.Sprintf("meters[%d]", i)
		if n := d.nodes[p]; n != nil {
			m.Line = n.Line
		}
		if m.PollInterval == unset {
			m.PollInterval = DefaultMeterPoll
			if drv, ok := reg.Lookup(m.Driver); ok && drv.DefaultPollInterval > 0 {
				m.PollInterval = drv.DefaultPollInterval
			}
		}
		if m.Timeout == unset {
			m.Timeout = min(DefaultTimeout, m.PollInterval)
		}
		if drv, ok := reg.Lookup(m.Driver); ok {
			m.Options = d.optionsBlock(p, drv.Name, drv.NewOptions)
		}
	}
}

func (d *decoder) validateSite(c *Config, reg *meter.Registry) {
	names := map[string]int{}
	known := "no meter drivers are registered"
	if n := reg.Names(); len(n) > 0 {
		known = "known meter drivers: " + strings.Join(n, ", ")
	}
	for i, m := range c.Meters {
		p := fmt.Sprintf("meters[%d]", i)
		switch {
		case m.Name == "":
			d.invalid(p+".name", "name is required, such as grid")
		case !nameRE.MatchString(m.Name):
			d.invalid(p+".name", "must be 1 to 64 lowercase letters, digits or _, got %q", m.Name)
		default:
			if j, dup := names[m.Name]; dup {
				d.invalid(p+".name", "name %q is already used by meters[%d]", m.Name, j)
			}
			names[m.Name] = i
		}
		if _, ok := reg.Lookup(m.Driver); !ok {
			msg := fmt.Sprintf("unknown meter driver %q", m.Driver)
			if s := closest(m.Driver, reg.Names()); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			d.invalid(p+".driver", "%s (%s)", msg, known)
		}
		if m.Address != "" {
			if err := checkAddress(m.Address); err != nil {
				d.invalid(p+".address", "%v", err)
			}
		}
		if m.Scale == 0 || m.Scale != m.Scale {
			d.invalid(p+".scale", "must not be 0, got %g", m.Scale)
		}
		if m.PollInterval < MinPollInterval || m.PollInterval > MaxPollInterval {
			d.invalid(p+".poll_interval", "must be between %s and %s, got %s", MinPollInterval, MaxPollInterval, m.PollInterval)
		} else if m.Timeout < MinTimeout || m.Timeout > m.PollInterval {
			d.invalid(p+".timeout", "must be between %s and poll_interval (%s), got %s", MinTimeout, m.PollInterval, m.Timeout)
		}
	}
	s := c.Site
	ref := func(key, name string) {
		if name == "" {
			return
		}
		if _, ok := names[name]; !ok {
			d.invalid("site."+key, "no meter named %q in meters", name)
		}
	}
	ref("grid_meter", s.GridMeter)
	ref("pv_meter", s.PVMeter)
	ref("battery_meter", s.BatteryMeter)
	if s.GridMeter == "" && (s.PVMeter != "" || s.BatteryMeter != "") {
		d.invalid("site.grid_meter", "pv_meter and battery_meter need a grid_meter: the controller works from the grid meter")
	}
	if s.PhaseLimit < 0 || s.PhaseLimit > 1000 {
		d.invalid("site.phase_limit", "must be between 0 (no limit) and 1000 A, got %g", s.PhaseLimit)
	}
	if s.SafeCurrent < 0 || s.SafeCurrent > MaxCurrentLimit {
		d.invalid("site.safe_current", "must be between 0 and %g A, got %g", MaxCurrentLimit, s.SafeCurrent)
	}
	if s.Voltage < 100 || s.Voltage > 280 {
		d.invalid("site.voltage", "must be between 100 and 280 V, got %g", s.Voltage)
	}
	if s.Tick < time.Second || s.Tick > time.Minute {
		d.invalid("site.tick", "must be between 1s and 1m, got %s", s.Tick)
	}
	if s.MeterMaxAge < s.Tick {
		d.invalid("site.meter_max_age", "must be at least tick (%s), got %s", s.Tick, s.MeterMaxAge)
	}
	if s.BatteryPrioritySoC < 0 || s.BatteryPrioritySoC > 100 {
		d.invalid("site.battery_priority_soc", "must be between 0 and 100 %%, got %g", s.BatteryPrioritySoC)
	}
	for i, ch := range c.Chargers {
		p := fmt.Sprintf("chargers[%d]", i)
		d.oneOf(p+".mode", ch.Mode, ChargerModes...)
		if ch.Phases != 1 && ch.Phases != 3 {
			d.invalid(p+".phases", "must be 1 or 3, got %d", ch.Phases)
		}
	}
	if s.PhaseLimit > 0 && s.PhaseLimit < MinCurrent {
		d.invalid("site.phase_limit", "%g A is below the 6 A minimum of every charger: none could ever charge", s.PhaseLimit)
	}
}
