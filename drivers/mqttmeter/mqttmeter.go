// Package mqttmeter makes a meter of MQTT topics (meter driver
// "mqtt_topic"), so that anything publishing to a broker, a Home
// Assistant sensor (through mqtt_statestream or an automation), a
// Tasmota or OpenDTU device, a battery system, can feed grid, PV or
// battery power and a battery's SoC. It ships a simulator: an embedded
// broker publishing a house's values.
//
// Each source is a topic, where the value is in the payload and which
// reading field it fills. The payload is a plain number ("1234.5") or,
// with json_path, JSON holding the number at that path (see package
// jsonpath: "ENERGY.Power", "value_json.power"); text holding a number
// counts as a number. An empty payload or JSON null clears the field:
// the reading leaves it out. Any other payload ("unavailable") fails
// the reads until a good one arrives.
//
// Freshness: Measured is when the value arrived (the oldest of the
// sources), or the time stamp at time_path in a JSON payload. A read
// fails while a source has had no message yet, or its last one is older
// than max_age (default 1 minute): publishers that send only on change
// (mqtt_statestream) need a longer max_age for slow values such as SoC.
// A retained message counts as received at subscription time.
//
// The broker: the broker option (tcp://, ssl:// with the system's CAs,
// ws://, wss://); without it, the meter's address as tcp://address (port
// 1883); without either, evbridge's own broker with evbridge's login and TLS settings
// (the add-on's Mosquitto, or the embedded broker), where Home
// Assistant's mqtt_statestream publishes. The driver connects at its first read, keeps one MQTT
// client with automatic reconnect, and subscribes again (QoS 0) after
// every reconnect.
//
// Sign: values are the payload's number times scale, in the source's
// own convention; the meter's sign in the config applies on top.
//
// References: MQTT Version 3.1.1 (OASIS Standard, 29 October 2014),
// which paho speaks; RFC 8259 (JSON); RFC 3339 (time stamps).
package mqttmeter

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/jsonpath"
)

func init() {
	meter.Register(meter.Driver{
		Name:                "mqtt_topic",
		Title:               "MQTT topics (plain number or JSON), e.g. Home Assistant sensors",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         1883,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s meter.Settings, opts any, log *slog.Logger) (meter.Meter, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log)
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "mqtt_topic",
		Title: "MQTT broker publishing a house's grid, PV and battery values",
		Run:   runSimulator,
	})
}

// fieldNames lists the fields a source can fill.
const fieldNames = "power, soc, energy_import, energy_export, current_l1, current_l2, current_l3, " +
	"voltage_l1, voltage_l2, voltage_l3"

func validField(f string) bool {
	return slices.Contains(strings.Split(fieldNames, ", "), f)
}

// Source is one topic and the reading field its value fills.
type Source struct {
	// Topic is the topic to subscribe to; wildcards are not allowed.
	Topic string `yaml:"topic"`
	// JSONPath locates the number in a JSON payload; empty means the
	// payload is a plain number.
	JSONPath string `yaml:"json_path"`
	// Field is the reading field the value fills: power (the default),
	// soc, energy_import, energy_export, current_l1..current_l3 or
	// voltage_l1..voltage_l3; units W, %, kWh, A, V after scale.
	Field string `yaml:"field"`
	// Scale multiplies the value (default 1): 1000 for kW, 0.001 for a
	// counter in Wh, -1 to flip a sign.
	Scale float64 `yaml:"scale"`
	// TimePath locates a time stamp in a JSON payload (RFC 3339 text,
	// or Unix seconds or milliseconds) to use as Measured instead of the
	// arrival time.
	TimePath string `yaml:"time_path"`
	// MaxAge fails the read when the last value is older (default 1m
	// for the main source; more sources default to the main one's). 0
	// after decoding is the default; a negative value turns it off.
	MaxAge time.Duration `yaml:"max_age"`
}

// Options configure the broker connection and the sources.
type Options struct {
	// Broker is the broker URL, e.g. tcp://192.168.1.10:1883. Empty: the
	// meter's address, as tcp://address:1883; without an address,
	// evbridge's own broker and login.
	Broker string `yaml:"broker"`
	// Username and Password log in to the broker, if it wants them.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ClientID is the MQTT client id (default evbridge-meter-<name>-
	// followed by random digits).
	ClientID string `yaml:"client_id"`
	// Source is the main topic, given inline: topic, json_path, field,
	// scale, time_path, max_age.
	Source `yaml:",inline"`
	// More are further topics feeding other fields of the same reading,
	// e.g. a battery's SoC beside its power.
	More []Source `yaml:"more"`
}

// DefaultMaxAge is the main source's default max_age.
const DefaultMaxAge = time.Minute

// DefaultOptions returns the defaults: field power, max_age 1 minute.
func DefaultOptions() Options {
	return Options{Source: Source{Field: "power", MaxAge: DefaultMaxAge}}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	_, err := o.compile()
	return err
}

// source is a Source ready for payloads.
type source struct {
	Source
	path, timePath *jsonpath.Path
	scale          float64
}

func (o *Options) compile() ([]*source, error) {
	var errs []error
	if o.Broker != "" {
		u, err := url.Parse(o.Broker)
		if err != nil || !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) || u.Host == "" {
			errs = append(errs, fmt.Errorf("mqtt_topic: broker %q is not a broker URL such as tcp://host:1883", o.Broker))
		}
	}
	mainAge := o.MaxAge
	if mainAge == 0 {
		mainAge = DefaultMaxAge
	}
	var out []*source
	seen := map[string]bool{}
	for i, s := range append([]Source{o.Source}, o.More...) {
		name := "source"
		if i > 0 {
			name = fmt.Sprintf("more[%d]", i-1)
		}
		if s.Field == "" {
			s.Field = "power"
		}
		if s.MaxAge == 0 {
			s.MaxAge = mainAge
		}
		c := &source{Source: s, scale: s.Scale}
		if c.scale == 0 {
			c.scale = 1
		}
		switch {
		case strings.TrimSpace(s.Topic) == "":
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: topic is empty", name))
		case strings.ContainsAny(s.Topic, "+#\x00"):
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: topic %q has a wildcard; name one topic", name, s.Topic))
		case !validField(s.Field):
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: field %q is not one of %s", name, s.Field, fieldNames))
		case seen[s.Field]:
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: field %s is filled twice", name, s.Field))
		case math.IsNaN(s.Scale) || math.IsInf(s.Scale, 0):
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: scale %v is not a number", name, s.Scale))
		case s.TimePath != "" && s.JSONPath == "":
			errs = append(errs, fmt.Errorf("mqtt_topic: %s: time_path needs a JSON payload (json_path)", name))
		}
		seen[s.Field] = true
		for _, p := range []struct {
			text string
			dst  **jsonpath.Path
			what string
		}{{s.JSONPath, &c.path, "json_path"}, {s.TimePath, &c.timePath, "time_path"}} {
			if p.text == "" {
				continue
			}
			jp, err := jsonpath.Parse(p.text)
			if err != nil {
				errs = append(errs, fmt.Errorf("mqtt_topic: %s: %s: %w", name, p.what, err))
			}
			*p.dst = &jp
		}
		out = append(out, c)
	}
	for _, kind := range []string{"current", "voltage"} {
		for ph := 2; ph <= 3; ph++ {
			if seen[fmt.Sprintf("%s_l%d", kind, ph)] && !seen[fmt.Sprintf("%s_l%d", kind, ph-1)] {
				errs = append(errs, fmt.Errorf("mqtt_topic: %s_l%d given without %s_l%d", kind, ph, kind, ph-1))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
