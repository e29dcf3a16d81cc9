package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// Files and settings of the add-on layout.
const (
	// DefaultDataDir is the add-on's persistent, writable volume.
	DefaultDataDir = "/data"
	// OptionsFile is where the Supervisor writes the user's options.
	OptionsFile = "options.json"
	// StateFile is evbridge's state file in the data directory.
	StateFile = "evbridge-state.json"
	// IngressListen is where the web UI listens for Home Assistant's
	// ingress; the port is ingress_port in ha/addon/config.yaml.
	IngressListen = ":8099"
)

// Options are the add-on's options (ha/addon/config.yaml, options and
// schema). Each key is the config file key of the same name, except
// log_level (log.level). Optional options are pointers or may be empty:
// left out, evbridge's own default applies.
type Options struct {
	LogLevel  string           `json:"log_level"`
	Chargers  []ChargerOptions `json:"chargers"`
	Meters    []MeterOptions   `json:"meters"`
	Discovery DiscoveryOptions `json:"discovery"`
	Site      SiteOptions      `json:"site"`
}

// ChargerOptions is one entry of the chargers option.
type ChargerOptions struct {
	Name         string   `json:"name" yaml:"name"`
	Driver       string   `json:"driver" yaml:"driver"`
	Address      string   `json:"address" yaml:"address"`
	MaxCurrent   *float64 `json:"max_current,omitempty" yaml:"max_current,omitempty"`
	PollInterval string   `json:"poll_interval,omitempty" yaml:"poll_interval,omitempty"`
	Mode         string   `json:"mode,omitempty" yaml:"mode,omitempty"`
	Priority     *int     `json:"priority,omitempty" yaml:"priority,omitempty"`
	Phases       *int     `json:"phases,omitempty" yaml:"phases,omitempty"`
}

// MeterOptions is one entry of the meters option.
type MeterOptions struct {
	Name    string   `json:"name" yaml:"name"`
	Driver  string   `json:"driver" yaml:"driver"`
	Address string   `json:"address,omitempty" yaml:"address,omitempty"`
	Invert  *bool    `json:"invert,omitempty" yaml:"invert,omitempty"`
	Scale   *float64 `json:"scale,omitempty" yaml:"scale,omitempty"`
}

// DiscoveryOptions is the discovery option.
type DiscoveryOptions struct {
	MDNS     *bool    `json:"mdns,omitempty" yaml:"mdns,omitempty"`
	Subnets  []string `json:"subnets,omitempty" yaml:"subnets,omitempty"`
	Found    string   `json:"found,omitempty" yaml:"found,omitempty"`
	Interval string   `json:"interval,omitempty" yaml:"interval,omitempty"`
}

// SiteOptions is the site option: the solar controller and the site limit.
type SiteOptions struct {
	GridMeter          string   `json:"grid_meter,omitempty" yaml:"grid_meter,omitempty"`
	PVMeter            string   `json:"pv_meter,omitempty" yaml:"pv_meter,omitempty"`
	BatteryMeter       string   `json:"battery_meter,omitempty" yaml:"battery_meter,omitempty"`
	PhaseLimit         *float64 `json:"phase_limit,omitempty" yaml:"phase_limit,omitempty"`
	SafeCurrent        *float64 `json:"safe_current,omitempty" yaml:"safe_current,omitempty"`
	ResidualPower      *float64 `json:"residual_power,omitempty" yaml:"residual_power,omitempty"`
	BatteryPrioritySoC *float64 `json:"battery_priority_soc,omitempty" yaml:"battery_priority_soc,omitempty"`
}

// ReadOptions reads and strictly decodes an options.json: an unknown
// option or a value of the wrong type is an error naming it.
func ReadOptions(path string) (*Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read add-on options: %w", err)
	}
	return ParseOptions(data, path)
}

// ParseOptions is ReadOptions on data; source names it in messages.
func ParseOptions(data []byte, source string) (*Options, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var o Options
	if err := dec.Decode(&o); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s: option %s: expected %s, got a JSON %s", source, te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, fmt.Errorf("%s: unknown option %s (this evbridge does not know it; is the add-on older than its options?)",
				source, strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return nil, fmt.Errorf("%s: not a valid options file: %w", source, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: not a valid options file: more than one JSON value", source)
	}
	return &o, nil
}

// document is the config file the options and the MQTT service make. Its
// keys are config.Config's.
type document struct {
	MQTT struct {
		Broker   string `yaml:"broker"`
		Username string `yaml:"username,omitempty"`
		Password string `yaml:"password,omitempty"`
	} `yaml:"mqtt"`
	Log struct {
		Level string `yaml:"level,omitempty"`
	} `yaml:"log"`
	State struct {
		File string `yaml:"file"`
	} `yaml:"state"`
	HTTP struct {
		Listen  string `yaml:"listen"`
		Ingress bool   `yaml:"ingress"`
	} `yaml:"http"`
	Discovery DiscoveryOptions `yaml:"discovery"`
	Site      SiteOptions      `yaml:"site"`
	Meters    []MeterOptions   `yaml:"meters"`
	Chargers  []ChargerOptions `yaml:"chargers"`
}

// Layout is where the add-on keeps its files and serves its web UI.
type Layout struct {
	// DataDir holds options.json and the state file (DefaultDataDir).
	DataDir string
	// Listen is the web UI's address (IngressListen).
	Listen string
	// ConfigDir is the add-on's public config folder (DefaultConfigDir),
	// where an optional evbridge.yaml extends the options.
	ConfigDir string
}

func (l Layout) withDefaults() Layout {
	if l.DataDir == "" {
		l.DataDir = DefaultDataDir
	}
	if l.Listen == "" {
		l.Listen = IngressListen
	}
	return l
}

// OptionsPath is the options file in the layout.
func (l Layout) OptionsPath() string { return filepath.Join(l.withDefaults().DataDir, OptionsFile) }

// ConfigYAML is the evbridge config file equivalent to o in the add-on
// layout: the broker from svc, the web UI for ingress on l.Listen, and
// the state file in l.DataDir.
func (o *Options) ConfigYAML(svc MQTTService, l Layout) ([]byte, error) {
	l = l.withDefaults()
	var d document
	d.MQTT.Broker = lit(svc.BrokerURL())
	d.MQTT.Username, d.MQTT.Password = lit(svc.Username), lit(svc.Password)
	d.Log.Level = lit(o.LogLevel)
	d.State.File = lit(filepath.Join(l.DataDir, StateFile))
	d.HTTP.Listen, d.HTTP.Ingress = lit(l.Listen), true
	d.Discovery = o.Discovery
	d.Discovery.Found, d.Discovery.Interval = lit(d.Discovery.Found), lit(d.Discovery.Interval)
	d.Discovery.Subnets = lits(o.Discovery.Subnets)
	d.Site = o.Site
	d.Site.GridMeter, d.Site.PVMeter, d.Site.BatteryMeter = lit(o.Site.GridMeter), lit(o.Site.PVMeter), lit(o.Site.BatteryMeter)
	d.Meters = make([]MeterOptions, len(o.Meters))
	for i, m := range o.Meters {
		m.Name, m.Driver, m.Address = lit(m.Name), lit(m.Driver), lit(m.Address)
		d.Meters[i] = m
	}
	d.Chargers = make([]ChargerOptions, len(o.Chargers))
	for i, c := range o.Chargers {
		c.Name, c.Driver, c.Address = lit(c.Name), lit(c.Driver), lit(c.Address)
		c.PollInterval, c.Mode = lit(c.PollInterval), lit(c.Mode)
		d.Chargers[i] = c
	}
	out, err := yaml.Marshal(&d)
	if err != nil {
		return nil, fmt.Errorf("build config from add-on options: %w", err)
	}
	return out, nil
}

// lit escapes s so that the config file's ${...} expansion leaves it as
// it is: options and broker passwords are literal text.
func lit(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func lits(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = lit(s)
	}
	return out
}

// Config maps the options and the MQTT service to a validated config,
// with config.Parse: the rules are exactly a config file's. The options
// file of l names the options in messages and becomes Config.Source.
// Drivers are looked up in reg (charger.Default when nil).
//
// A problem is reported against the option it comes from, e.g.
// "/data/options.json: option chargers[0].max_current: must be between 6
// and 80 A", or against the Supervisor's MQTT service for the broker.
//
// When the add-on's config folder holds evbridge.yaml (Layout.ConfigPath),
// that file is the configuration, with the broker, web UI and state file
// set by the add-on, and the options used for the sections the file
// leaves out.
func Config(o *Options, svc MQTTService, l Layout, reg *charger.Registry) (*config.Config, error) {
	l = l.withDefaults()
	file, err := readConfigFile(l.ConfigPath())
	if err != nil {
		return nil, err
	}
	if file != nil {
		return configWithFile(o, svc, l, reg, file)
	}
	optionsPath := l.OptionsPath()
	doc, err := o.ConfigYAML(svc, l)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(doc, optionsPath, reg)
	if err == nil {
		return cfg, nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil, fmt.Errorf("%s: %w", optionsPath, err)
	}
	out := make(config.Errors, 0, len(errs))
	for _, e := range errs {
		out = append(out, optionsError(e, l))
	}
	return nil, out
}

// optionsError reports a problem of the generated config against the
// option, the Supervisor's MQTT service or the add-on layout it comes from.
func optionsError(e *config.Error, l Layout) *config.Error {
	c := *e
	c.Line, c.Column = 0, 0
	c.Path = optionName(e.Path)
	switch {
	case strings.HasPrefix(e.Path, "mqtt"):
		c.File = "MQTT service from the Supervisor"
	case strings.HasPrefix(e.Path, "http"), strings.HasPrefix(e.Path, "state"):
		c.File = "add-on layout (" + l.DataDir + ", " + l.Listen + ")"
	case c.Path != "":
		c.File = l.OptionsPath()
		c.Path = "option " + c.Path
	default:
		c.File = l.OptionsPath()
	}
	return &c
}

// optionName is the add-on option a config key path comes from.
func optionName(path string) string {
	if path == "log.level" {
		return "log_level"
	}
	return path
}
