package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/goe"
)

// addonWithFile is an add-on layout whose config folder holds file.
func addonWithFile(t *testing.T, file string) Layout {
	t.Helper()
	l := Layout{DataDir: "/data", Listen: ":8099", ConfigDir: t.TempDir()}
	if err := os.WriteFile(l.ConfigPath(), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func options(t *testing.T, js string) *Options {
	t.Helper()
	o, err := ParseOptions([]byte(js), "/data/options.json")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

const shippedOptions = `{"log_level":"debug","chargers":[],"meters":[],"discovery":{"mdns":true,"subnets":[],"found":"pending"},"site":{}}`

// What the options cannot say (a driver's options block, a timeout) is
// written in evbridge.yaml; the add-on still owns broker, web UI and state.
func TestConfigFileExtendsOptions(t *testing.T) {
	l := addonWithFile(t, `# my chargers
chargers:
  - name: garage
    driver: goe
    address: 192.0.2.20
    timeout: 1500ms
    options:
      token: abc
homeassistant:
  prefix: ha`)
	cfg, err := Config(options(t, `{"log_level":"debug","chargers":[],"meters":[],"discovery":{"mdns":false,"subnets":[],"found":"pending"},"site":{"phase_limit":25}}`),
		svc, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Chargers) != 1 || cfg.Chargers[0].Timeout != 1500*time.Millisecond {
		t.Fatalf("chargers = %+v", cfg.Chargers)
	}
	if o, ok := cfg.Chargers[0].Options.(*goe.Options); !ok || o.Token != "abc" {
		t.Errorf("driver options = %#v", cfg.Chargers[0].Options)
	}
	if cfg.HomeAssistant.Prefix != "ha" {
		t.Errorf("homeassistant = %+v", cfg.HomeAssistant)
	}
	// Owned by the add-on.
	if cfg.MQTT.Broker != "tcp://core-mosquitto:1883" || cfg.MQTT.Password != svc.Password ||
		cfg.HTTP.Listen != ":8099" || !cfg.HTTP.Ingress || cfg.StateFile() != "/data/evbridge-state.json" {
		t.Errorf("add-on keys: mqtt %+v http %+v state %s", cfg.MQTT, cfg.HTTP, cfg.StateFile())
	}
	// Left out of the file: from the options.
	if cfg.Log.Level != "debug" || cfg.Discovery.MDNS || cfg.Site.PhaseLimit != 25 {
		t.Errorf("from the options: log %+v discovery %+v site %+v", cfg.Log, cfg.Discovery, cfg.Site)
	}
	if cfg.Source != l.ConfigPath() {
		t.Errorf("source %s", cfg.Source)
	}
}

func TestConfigFileErrors(t *testing.T) {
	cases := []struct{ name, file, options, want string }{
		{"owned key", "chargers: []\nmqtt:\n  broker: tcp://elsewhere:1883\n", shippedOptions,
			"evbridge.yaml:2:1: mqtt: set by the add-on, remove it here: the broker comes from the Supervisor"},
		{"http owned", "http:\n  listen: :80\n", shippedOptions, "evbridge.yaml:1:1: http: set by the add-on"},
		{"chargers twice", "chargers:\n  - {name: a, driver: goe, address: x}\n",
			`{"chargers":[{"name":"b","driver":"goe","address":"y"}]}`,
			"evbridge.yaml:1:1: chargers: also set in the add-on's options (/data/options.json: chargers)"},
		{"discovery twice", "discovery:\n  mdns: false\n", `{"discovery":{"mdns":true,"subnets":["192.0.2.0/24"]}}`,
			"discovery: also set in the add-on's options"},
		{"a line of the file", "# c\nchargers:\n  - name: a\n    driver: goe\n    address: x\n    max_current: 200\n", shippedOptions,
			"evbridge.yaml:6:18: chargers[0].max_current"},
		{"unknown key in the file", "chargrs: []\n", shippedOptions, "evbridge.yaml:1:1: chargrs"},
		{"flow mapping", "{chargers: []}\n", shippedOptions, "must be a mapping of config keys starting at the left margin"},
		{"a list", "- a\n- b\n", shippedOptions, "must be a mapping of config keys"},
		{"two documents", "chargers: []\n---\nmeters: []\n", shippedOptions, "more than one YAML document"},
		{"bad yaml", "chargers: [\n", shippedOptions, "not valid YAML"},
		{"an option's problem", "meters: []\n", `{"chargers":[{"name":"a","driver":"goe","address":"x","max_current":200}]}`,
			"/data/options.json: option chargers[0].max_current"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := addonWithFile(t, c.file)
			_, err := Config(options(t, c.options), svc, l, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant %q", err, c.want)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("not config.Errors: %T", err)
			}
			for _, e := range errs {
				if e.File == l.ConfigPath() && e.Line > strings.Count(c.file, "\n")+1 {
					t.Errorf("message points past the user's file, at the add-on's own lines: %v", e)
				}
			}
		})
	}
}

// No file, or an empty one: the options alone, as before.
func TestNoOrEmptyConfigFile(t *testing.T) {
	o := options(t, `{"chargers":[{"name":"a","driver":"goe","address":"192.0.2.1"}]}`)
	for name, l := range map[string]Layout{
		"none":  {DataDir: "/data", ConfigDir: t.TempDir()},
		"empty": addonWithFile(t, "# nothing yet\n"),
	} {
		cfg, err := Config(o, svc, l, nil)
		if err != nil || len(cfg.Chargers) != 1 {
			t.Errorf("%s: cfg %+v, err %v", name, cfg, err)
		}
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ConfigFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Config(o, svc, Layout{ConfigDir: dir}, nil); err == nil || !strings.Contains(err.Error(), "read the add-on's config file") {
		t.Errorf("a folder where the file should be: %v", err)
	}
}
