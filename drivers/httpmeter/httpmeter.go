// Package httpmeter reads any meter, inverter, battery or home
// automation system that serves its values as JSON over HTTP (meter
// driver "http_json"), and simulates such a device.
//
// One read is one GET of the configured URL. Each value the reading
// carries is located in the reply by a path (see package jsonpath for
// the syntax) and multiplied by its scale: power in W, currents in A,
// voltages in V, energy counters in kWh, SoC in %. The reply may give
// numbers as JSON numbers or as text holding a number (Home Assistant's
// REST API returns states as text). A configured value whose path is
// missing from the reply fails the read; a value that is JSON null is
// left out of the reading. time_path, when set, locates the time the
// device took the values (RFC 3339 text, or Unix seconds or
// milliseconds) and fills Measured; without it Measured stays zero.
//
// Home Assistant, for example (a long-lived access token from the HA
// user profile):
//
//	driver: http_json
//	options:
//	  url: http://homeassistant.local:8123/api/states/sensor.grid_power
//	  headers: {Authorization: "Bearer <token>"}
//	  power: {path: state, scale: 1000}   # the sensor is in kW
//	  time_path: last_updated
//
// Sign: Power is the value at its path times its scale; a negative
// scale flips it. The reading is in the meter's own convention, and
// the meter's sign in the config applies on top.
//
// There is no vendor document: the "protocol" is whatever JSON the
// configured endpoint serves; RFC 8259 (JSON) and RFC 3339 (times).
package httpmeter

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/jsonpath"
)

func init() {
	meter.Register(meter.Driver{
		Name:                "http_json",
		Title:               "Generic JSON over HTTP (values located by path)",
		DefaultPollInterval: 5 * time.Second,
		DefaultPort:         80,
		NewOptions:          func() any { return &Options{} },
		New: func(s meter.Settings, opts any, log *slog.Logger) (meter.Meter, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "http_json",
		Title: "JSON over HTTP: grid, PV and battery values of a house",
		Run:   runSimulator,
	})
}

// Value locates one number in the reply.
type Value struct {
	// Path locates the value: keys separated by dots, [n] for array
	// element n, ['key'] for keys with dots or spaces; a leading
	// value_json is ignored ("emeters[0].power", "value_json.power").
	Path string `yaml:"path"`
	// Scale multiplies the value into the reading's unit (default 1):
	// 1000 for kW, 0.001 for a counter in Wh, -1 to flip a sign.
	Scale float64 `yaml:"scale"`
}

// Options configure what to fetch and where the values are in it.
type Options struct {
	// URL is what to GET. Default: http://<address>/ from the meter's
	// address.
	URL string `yaml:"url"`
	// Headers are sent with every request, e.g. Authorization.
	Headers map[string]string `yaml:"headers"`
	// Power is the total active power, W.
	Power *Value `yaml:"power"`
	// Currents are the phase currents L1, L2, L3 in order (at most
	// three), A.
	Currents []Value `yaml:"currents"`
	// Voltages are the phase voltages L1, L2, L3 in order, V.
	Voltages []Value `yaml:"voltages"`
	// EnergyImport and EnergyExport are lifetime counters, kWh.
	EnergyImport *Value `yaml:"energy_import"`
	EnergyExport *Value `yaml:"energy_export"`
	// SoC is a battery's state of charge, %.
	SoC *Value `yaml:"soc"`
	// TimePath locates when the values were taken (RFC 3339 text or
	// Unix seconds or milliseconds); empty: Measured stays zero.
	TimePath string `yaml:"time_path"`
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	_, err := o.compile()
	return err
}

// target is the reading field a value fills.
type target int

const (
	tPower target = iota
	tImport
	tExport
	tSoC
	tCurrent // + phase index
	tVoltage = tCurrent + 3
)

// field is one configured value, compiled.
type field struct {
	name  string
	path  jsonpath.Path
	scale float64
	to    target
}

// compiled is the options ready for reading.
type compiled struct {
	fields   []field
	timePath *jsonpath.Path
}

func (o *Options) compile() (*compiled, error) {
	c := &compiled{}
	var errs []error
	add := func(name string, v *Value, to target) {
		if v == nil {
			return
		}
		p, err := jsonpath.Parse(v.Path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("http_json: %s: %w", name, err))
		case strings.TrimSpace(v.Path) == "":
			errs = append(errs, fmt.Errorf("http_json: %s: path is empty", name))
		case math.IsNaN(v.Scale) || math.IsInf(v.Scale, 0):
			errs = append(errs, fmt.Errorf("http_json: %s: scale %v is not a number", name, v.Scale))
		}
		scale := v.Scale
		if scale == 0 {
			scale = 1
		}
		c.fields = append(c.fields, field{name: name, path: p, scale: scale, to: to})
	}
	add("power", o.Power, tPower)
	add("energy_import", o.EnergyImport, tImport)
	add("energy_export", o.EnergyExport, tExport)
	add("soc", o.SoC, tSoC)
	for _, ph := range []struct {
		name string
		vals []Value
		to   target
	}{{"currents", o.Currents, tCurrent}, {"voltages", o.Voltages, tVoltage}} {
		if len(ph.vals) > 3 {
			errs = append(errs, fmt.Errorf("http_json: %s: %d given, at most 3 (L1, L2, L3)", ph.name, len(ph.vals)))
			continue
		}
		for i := range ph.vals {
			add(fmt.Sprintf("%s[%d]", ph.name, i), &ph.vals[i], ph.to+target(i))
		}
	}
	if o.TimePath != "" {
		p, err := jsonpath.Parse(o.TimePath)
		if err != nil {
			errs = append(errs, fmt.Errorf("http_json: time_path: %w", err))
		}
		c.timePath = &p
	}
	if len(c.fields) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("http_json: no value configured: set at least one of power, "+
			"currents, voltages, energy_import, energy_export, soc"))
	}
	if o.URL != "" {
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("http_json: url %q is not an http or https URL", o.URL))
		}
	}
	for k, v := range o.Headers {
		if k == "" || strings.ContainsAny(k+v, "\r\n") || !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("http_json: header %q is not a valid single-line header", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func validHeaderName(k string) bool {
	return http.CanonicalHeaderKey(k) != "" && !strings.ContainsAny(k, " :\t")
}
