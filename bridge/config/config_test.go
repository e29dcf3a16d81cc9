package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n# and another\n", "---\n", "~\n", "{}\n",
		"mqtt:\nhomeassistant:\nlog:\nchargers:\n"} {
		cfg, err := Parse([]byte(in), "evbridge.yaml", testRegistry())
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		want := Default()
		want.Source = "evbridge.yaml"
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("%q: got\n%+v\nwant\n%+v", in, cfg, want)
		}
	}
	d := Default()
	if d.Source != "" || d.MQTT.Broker != "" || d.MQTT.Embedded.Listen != "127.0.0.1:1883" || d.MQTT.ClientID != "evbridge" ||
		d.MQTT.BaseTopic != "evbridge" || d.MQTT.KeepAlive != 30*time.Second || !d.HomeAssistant.Discovery ||
		d.HomeAssistant.Prefix != "homeassistant" || d.HomeAssistant.StatusTopic != "homeassistant/status" ||
		d.Log.Level != "info" || d.Log.Format != "text" || len(d.Chargers) != 0 {
		t.Errorf("Default() = %+v", d)
	}
}

func TestParseChargers(t *testing.T) {
	in := doc(
		"chargers:",
		"  - name: garage",
		"    driver: goe",
		"    address: 192.0.2.20",
		"  - name: wallbox",
		"    driver: modbusdrv",
		"    address: 192.0.2.21:1502",
		"    max_current: 32",
		"    poll_interval: 500ms",
		"    options:",
		"      serial: A1",
		"      meter:",
		"        phases: 3",
		"  - name: carport",
		"    driver: modbusdrv",
		"    address: 2001:db8::1",
		"    poll_interval: 10s",
		"    timeout: 3s",
		"    options:",
	)
	cfg, err := Parse(in, "evbridge.yaml", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	want := []Charger{
		{Name: "garage", Driver: "goe", Address: "192.0.2.20", MaxCurrent: 16, PollInterval: 2 * time.Second,
			Timeout: 2 * time.Second, Line: 2},
		{Name: "wallbox", Driver: "modbusdrv", Address: "192.0.2.21:1502", MaxCurrent: 32,
			PollInterval: 500 * time.Millisecond, Timeout: 500 * time.Millisecond, Line: 5,
			Options: &testOptions{Serial: "A1", UnitID: 1, Meter: struct {
				Phases int `yaml:"phases"`
			}{3}}},
		{Name: "carport", Driver: "modbusdrv", Address: "2001:db8::1", MaxCurrent: 16, PollInterval: 10 * time.Second,
			Timeout: 3 * time.Second, Line: 14, Options: &testOptions{UnitID: 1}},
	}
	for i := range want {
		want[i].Mode, want[i].Phases = DefaultChargerMode, DefaultChargerPhase
	}
	if !reflect.DeepEqual(cfg.Chargers, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg.Chargers, want)
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	in := doc(
		"x-common: &common",
		"  driver: modbusdrv",
		"  max_current: 20",
		"  options: {unit_id: 7}",
	)
	// x-common is not a known key: anchors must live in a known place.
	if _, err := Parse(in, "a.yaml", testRegistry()); err == nil {
		t.Error("unknown top-level anchor holder accepted")
	}
	in = doc(
		"chargers:",
		"  - &first",
		"    name: garage",
		"    driver: modbusdrv",
		"    address: 192.0.2.20",
		"    max_current: 20",
		"    options: {unit_id: 7}",
		"  - <<: *first",
		"    name: carport",
		"    address: 192.0.2.21",
	)
	cfg, err := Parse(in, "a.yaml", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Chargers[1]
	if c.Name != "carport" || c.Address != "192.0.2.21" || c.MaxCurrent != 20 || c.Options.(*testOptions).UnitID != 7 {
		t.Errorf("merged charger = %+v", c)
	}
	if cfg.Chargers[0].Options == cfg.Chargers[1].Options {
		t.Error("chargers share one options struct")
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		addr string
		port int
		want string
	}{
		{"192.0.2.20", 80, "192.0.2.20:80"},
		{"192.0.2.20:8080", 80, "192.0.2.20:8080"},
		{"charger.lan", 502, "charger.lan:502"},
		{"2001:db8::1", 502, "[2001:db8::1]:502"},
		{"[2001:db8::1]", 502, "[2001:db8::1]:502"},
		{"[2001:db8::1]:1502", 502, "[2001:db8::1]:1502"},
		{"fe80::1%eth0", 80, "[fe80::1%eth0]:80"},
		{"192.0.2.20", 0, "192.0.2.20"},
		{"2001:db8::1", 0, "[2001:db8::1]"},
	}
	for _, tt := range tests {
		c := Charger{Address: tt.addr}
		if got := c.HostPort(tt.port); got != tt.want {
			t.Errorf("HostPort(%q, %d) = %q, want %q", tt.addr, tt.port, got, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Setenv("EVB_PW", "hunter2")
	in := doc(
		"mqtt:",
		"  broker: tcp://192.0.2.10:1883",
		"  username: evbridge",
		"  password: ${EVB_PW}",
		"chargers:",
		"  - name: wallbox",
		"    driver: modbusdrv",
		"    address: 192.0.2.21",
		"    options: {token: hunter2, serial: A1}",
	)
	cfg, err := Parse(in, "a.yaml", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(cfg.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if strings.Contains(s, "hunter2") {
		t.Errorf("secret in %s", s)
	}
	for _, want := range []string{`"password":"***"`, `"token":"***"`, `"username":"evbridge"`, `"serial":"A1"`,
		`"keep_alive":"30s"`, `"poll_interval":"1s"`, `"max_current":16`, `"ca_file":""`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if cfg.MQTT.Password != "hunter2" {
		t.Error("Redacted changed the Config")
	}
	if got := Default().Redacted().(map[string]any)["mqtt"].(map[string]any)["password"]; got != "" {
		t.Errorf("empty password redacted to %v", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evbridge.yaml")
	if err := os.WriteFile(path, doc("log:", "  level: DEBUG"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != path || cfg.Log.Level != "debug" {
		t.Errorf("Source %q, level %q", cfg.Source, cfg.Log.Level)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), testRegistry()); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestTLSPathsRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := doc("mqtt:", "  broker: mqtts://192.0.2.10:8883", "  tls:", "    ca_file: ca.pem")
	cfg, err := Parse(in, filepath.Join(dir, "evbridge.yaml"), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "ca.pem"); cfg.MQTT.TLS.CAFile != want {
		t.Errorf("ca_file %q, want %q", cfg.MQTT.TLS.CAFile, want)
	}
}
