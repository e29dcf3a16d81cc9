package supervisor

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	_ "github.com/evbridge/evbridge/drivers/goe" // a real driver for the mapping
)

var svc = MQTTService{Host: "core-mosquitto", Port: 1883, Username: "addons", Password: "pa$$word${HOME}"}

const fullOptions = `{
  "log_level": "debug",
  "chargers": [
    {"name": "garage", "driver": "goe", "address": "192.0.2.20", "max_current": 20, "poll_interval": "5s",
     "mode": "pv", "priority": 2, "phases": 1},
    {"name": "carport", "driver": "goe", "address": "192.0.2.21"}
  ],
  "meters": [],
  "discovery": {"mdns": false, "subnets": ["192.0.2.0/24"], "found": "add", "interval": "10m"},
  "site": {"phase_limit": 25, "safe_current": 8}
}`

func TestOptionsToConfig(t *testing.T) {
	o, err := ParseOptions([]byte(fullOptions), "/data/options.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config(o, svc, Layout{}, charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Broker != "tcp://core-mosquitto:1883" || cfg.MQTT.Username != "addons" || cfg.MQTT.Password != svc.Password {
		t.Errorf("mqtt = %+v (the password must stay literal)", cfg.MQTT)
	}
	if cfg.HTTP.Listen != ":8099" || !cfg.HTTP.Ingress {
		t.Errorf("http = %+v", cfg.HTTP)
	}
	if got := cfg.StateFile(); got != "/data/evbridge-state.json" {
		t.Errorf("state file = %s", got)
	}
	if cfg.Log.Level != "debug" || cfg.Discovery.MDNS || cfg.Discovery.Found != "add" || cfg.Discovery.Interval.String() != "10m0s" ||
		len(cfg.Discovery.Subnets) != 1 || cfg.Site.PhaseLimit != 25 || cfg.Site.SafeCurrent != 8 {
		t.Errorf("cfg = %+v", cfg)
	}
	g, c := cfg.Chargers[0], cfg.Chargers[1]
	if g.Name != "garage" || g.MaxCurrent != 20 || g.PollInterval.String() != "5s" || g.Mode != "pv" || g.Priority != 2 || g.Phases != 1 {
		t.Errorf("garage = %+v", g)
	}
	// Options left out keep evbridge's defaults.
	if c.MaxCurrent != 16 || c.Phases != 3 || c.Mode != "now" {
		t.Errorf("carport = %+v", c)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := ParseOptions([]byte(`{"log_level":"info","chargers":[],"meters":[],"discovery":{"mdns":true,"subnets":[],"found":"pending"},"site":{}}`), "o.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config(o, MQTTService{Host: "h", Port: 8883, SSL: true}, Layout{DataDir: "/data", Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:0" || cfg.Source != "/data/options.json" {
		t.Errorf("layout: listen %s, source %s", cfg.HTTP.Listen, cfg.Source)
	}
	if cfg.MQTT.Broker != "mqtts://h:8883" || cfg.SiteEnabled() || !cfg.Discovery.MDNS || len(cfg.Chargers) != 0 {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestOptionsErrorsNameTheOption(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"chargers":[{"name":"garage","driver":"goe","address":"192.0.2.20","max_current":200}]}`,
			"/data/options.json: option chargers[0].max_current: "},
		{`{"chargers":[{"name":"Garage!","driver":"goe","address":"x"}]}`, "option chargers[0].name"},
		{`{"chargers":[{"name":"a","driver":"nosuch","address":"x"}]}`, `option chargers[0].driver: unknown driver "nosuch"`},
		{`{"chargers":[{"name":"a","driver":"goe","address":"x","mode":"turbo"}]}`, "option chargers[0].mode"},
		{`{"log_level":"loud"}`, "option log_level: "},
		{`{"discovery":{"subnets":["lan"]}}`, "option discovery.subnets[0]"},
		{`{"site":{"grid_meter":"nosuch"}}`, "option site.grid_meter"},
		{`{"chargers":[{"name":"a","driver":"goe","address":"x","poll_interval":"${HOME}"}]}`, "option chargers[0].poll_interval"},
	}
	for _, c := range cases {
		o, err := ParseOptions([]byte(c.in), "/data/options.json")
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		_, err = Config(o, svc, Layout{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), ":1") {
			t.Errorf("%s: message has a line number of the generated YAML: %v", c.in, err)
		}
	}
}

func TestBadServiceIsNamed(t *testing.T) {
	o, _ := ParseOptions([]byte(`{}`), "o.json")
	_, err := Config(o, MQTTService{Host: "bad host", Port: 1883}, Layout{DataDir: "/data"}, nil)
	if err == nil || !strings.Contains(err.Error(), "MQTT service from the Supervisor: mqtt.broker") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"log_level":"info","colour":1}`, `unknown option "colour"`},
		{`{"chargers":[{"name":"a","max_current":"lots"}]}`, "option chargers.max_current: expected float64"},
		{`{"chargers":{}}`, "option chargers: expected"},
		{`{"log_level":`, "not a valid options file"},
		{`{} {}`, "more than one JSON value"},
	}
	for _, c := range cases {
		_, err := ParseOptions([]byte(c.in), "o.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want %q", c.in, err, c.want)
		}
	}
	if _, err := ReadOptions(filepath.Join(t.TempDir(), "missing.json")); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
