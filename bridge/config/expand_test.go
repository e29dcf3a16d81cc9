package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseExpansion(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mqtt_password"), []byte("s3cr$t\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVB_USER", "bridge")
	t.Setenv("EVB_AMPS", "20")
	t.Setenv("EVB_POLL", "1500ms")
	t.Setenv("EVB_DISCOVERY", "false")
	t.Setenv("EVB_EMPTY", "")
	t.Setenv("EVB_NULL", "null")
	in := doc(
		"# ${EVB_UNSET_IN_A_COMMENT} is not expanded",
		"mqtt:",
		"  broker: tcp://${EVB_HOST:-192.0.2.10}:${EVB_PORT:-1883}",
		"  username: ${EVB_USER}  # ${EVB_UNSET_TOO}",
		"  password: ${file:mqtt_password}",
		"  client_id: ${EVB_EMPTY:-fallback}",
		"  base_topic: a$$b/$x",
		"homeassistant:",
		"  discovery: ${EVB_DISCOVERY}",
		"  prefix: ${EVB_NULL}",
		"log:",
		"  level: ${EVB_EMPTY}",
		"chargers:",
		"  - name: garage",
		"    driver: goe",
		"    address: 192.0.2.20",
		"    max_current: ${EVB_AMPS}",
		"    poll_interval: ${EVB_POLL}",
	)
	cfg, err := Parse(in, filepath.Join(dir, "evbridge.yaml"), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.MQTT
	for _, c := range []struct{ got, want string }{
		{m.Broker, "tcp://192.0.2.10:1883"},
		{m.Username, "bridge"},
		{m.Password, "s3cr$t"},
		{m.ClientID, "fallback"},
		{m.BaseTopic, "a$b/$x"},
		{cfg.HomeAssistant.Prefix, "null"},
		{cfg.Log.Level, "info"}, // empty means the default
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if cfg.HomeAssistant.Discovery {
		t.Error("discovery: ${EVB_DISCOVERY} did not become false")
	}
	if c := cfg.Chargers[0]; c.MaxCurrent != 20 || c.PollInterval != 1500*time.Millisecond {
		t.Errorf("max_current %v, poll_interval %v", c.MaxCurrent, c.PollInterval)
	}
}

func TestParseExpansionErrors(t *testing.T) {
	t.Setenv("EVB_AMPS", "20")
	t.Setenv("EVB_SECRET", "hunter2")
	tests := []struct {
		name string
		in   []byte
		want []wantErr
	}{
		{"unset", doc("mqtt:", "  username: u", "  password: ${EVB_UNSET_PASSWORD}"),
			[]wantErr{{3, "mqtt.password", "environment variable EVB_UNSET_PASSWORD is not set (write ${EVB_UNSET_PASSWORD:-default} to give a default)"}}},
		{"unset in a list", doc("chargers:", "  - name: a", "    driver: goe", "    address: ${EVB_UNSET_ADDR}"),
			[]wantErr{{4, "chargers[0].address", "EVB_UNSET_ADDR is not set"}}},
		{"bad name", doc("mqtt:", "  client_id: ${1X}"),
			[]wantErr{{2, "mqtt.client_id", `invalid variable name "1X"`}}},
		{"unterminated", doc("mqtt:", "  client_id: ab${X"),
			[]wantErr{{2, "mqtt.client_id", `unterminated "${"`}}},
		{"nested", doc("mqtt:", "  client_id: ${A:-${B}}"),
			[]wantErr{{2, "mqtt.client_id", "nested ${...}"}}},
		{"missing file", doc("mqtt:", "  username: u", "  password: ${file:/nonexistent/evbridge/pw}"),
			[]wantErr{{3, "mqtt.password", "cannot read secret file: stat /nonexistent/evbridge/pw: no such file or directory"}}},
		{"directory", doc("mqtt:", "  username: u", "  password: ${file:/}"),
			[]wantErr{{3, "mqtt.password", "is not a regular file"}}},
		{"empty file path", doc("mqtt:", "  username: u", "  password: ${file:}"),
			[]wantErr{{3, "mqtt.password", "${file:} needs a path"}}},
		{"quoted stays a string", chargerDoc("garage", "goe", "192.0.2.20", `max_current: "${EVB_AMPS}"`),
			[]wantErr{{5, "chargers[0].max_current", "expected a number, got the value of ${EVB_AMPS} (not shown)"}}},
		{"secret not shown", doc("mqtt:", "  keep_alive: ${EVB_SECRET}"),
			[]wantErr{{2, "mqtt.keep_alive", "got the value of ${EVB_SECRET} (not shown)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in, "evbridge.yaml", testRegistry())
			checkErrors(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestExpandString(t *testing.T) {
	t.Setenv("EVB_A", "x")
	for in, want := range map[string]string{
		"":            "",
		"$":           "$",
		"a$":          "a$",
		"$$":          "$",
		"$${EVB_A}":   "${EVB_A}",
		"$$$":         "$$",
		"${EVB_A}$":   "x$",
		"${EVB_A}y":   "xy",
		"$EVB_A":      "$EVB_A",
		"${EVB_A:-d}": "x",
		"${EVB_B:-d}": "d",
		"${EVB_B:-}":  "",
		"p@$$w0rd":    "p@$w0rd",
	} {
		got, err := expandString(in, ".")
		if err != nil || got != want {
			t.Errorf("expandString(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
