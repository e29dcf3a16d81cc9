package config

import (
	"strings"
	"testing"
)

func TestParseDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []wantErr
	}{
		{"unknown top-level key", doc(
			"mqtt:",
			"  client_id: a",
			"mqttt:",
			"  x: 1",
		), []wantErr{{3, "mqttt", `unknown key "mqttt"; did you mean mqtt? (valid keys: mqtt, homeassistant, log, state, http, discovery, site, meters, chargers, testsvc)`}}},
		{"unknown nested key", doc(
			"mqtt:",
			"  tls:",
			"    ca_fil: /x",
		), []wantErr{{3, "mqtt.tls.ca_fil", "did you mean ca_file? (valid keys: ca_file, cert_file, key_file, insecure_skip_verify, server_name)"}}},
		{"unknown key without a close match", doc(
			"log:",
			"  colour: true",
		), []wantErr{{2, "log.colour", `unknown key "colour" (valid keys: level, format)`}}},
		{"unknown charger key", doc(
			"chargers:",
			"  - name: garage",
			"    driver: goe",
			"    address: 192.0.2.20",
			"    max_curent: 10",
		), []wantErr{{5, "chargers[0].max_curent", "did you mean max_current? (valid keys: name, driver, address, max_current, poll_interval, timeout, mode, priority, phases, options)"}}},
		{"unknown option key", doc(
			"chargers:",
			"  - name: wallbox",
			"    driver: modbusdrv",
			"    address: 192.0.2.21",
			"    options:",
			"      serail: A1",
			"      meter:",
			"        phase: 3",
		), []wantErr{
			{6, "chargers[0].options.serail", "did you mean serial?"},
			{8, "chargers[0].options.meter.phase", "did you mean phases?"},
		}},
		{"duration without unit", doc(
			"mqtt:",
			"  keep_alive: 30",
		), []wantErr{{2, "mqtt.keep_alive", "expected a duration like 2s or 1m30s, got 30 (a duration needs a unit, e.g. 30s)"}}},
		{"duration garbage", doc(
			"chargers:",
			"  - name: garage",
			"    driver: goe",
			"    address: 192.0.2.20",
			"    poll_interval: soon",
		), []wantErr{{5, "chargers[0].poll_interval", `expected a duration like 2s or 1m30s, got "soon"`}}},
		{"bool", doc(
			"homeassistant:",
			"  discovery: maybe",
		), []wantErr{{2, "homeassistant.discovery", `expected true or false, got "maybe"`}}},
		{"number", doc(
			"chargers:",
			"  - name: garage",
			"    driver: goe",
			"    address: 192.0.2.20",
			"    max_current: lots",
		), []wantErr{{5, "chargers[0].max_current", `expected a number, got "lots"`}}},
		{"option integer", doc(
			"chargers:",
			"  - name: wallbox",
			"    driver: modbusdrv",
			"    address: 192.0.2.21",
			"    options:",
			"      unit_id: 1.5",
		), []wantErr{{6, "chargers[0].options.unit_id", "expected a whole number, got 1.5"}}},
		{"section is a scalar", doc(
			"mqtt: yes",
		), []wantErr{{1, "mqtt", "expected a mapping with keys broker, embedded, username, password, client_id, base_topic, keep_alive, tls, got \"yes\""}}},
		{"chargers is a mapping", doc(
			"chargers:",
			"  name: garage",
		), []wantErr{{2, "chargers", "expected a list, got a mapping"}}},
		{"string is a mapping", doc(
			"mqtt:",
			"  broker:",
			"    url: tcp://192.0.2.10:1883",
		), []wantErr{{3, "mqtt.broker", "expected a string, got a mapping"}}},
		{"duplicate key", doc(
			"log:",
			"  level: info",
			"  format: text",
			"  level: debug",
		), []wantErr{{4, "log.level", `key "level" is already set on line 2`}}},
		{"syntax error", doc(
			"mqtt:",
			"  client_id: a",
			"chargers:",
			"  - name: garage",
			"    driver: goe",
			"   address: 192.0.2.20",
		), []wantErr{{6, "", "YAML syntax error: did not find expected '-' indicator"}}},
		{"tab", doc(
			"log:",
			"  level: info",
			"\tformat: json",
		), []wantErr{{3, "", "YAML syntax error: found a tab character"}}},
		{"top level is a list", doc(
			"- mqtt",
		), []wantErr{{1, "", "the top level must be a mapping of the sections mqtt, homeassistant, log and chargers, got a list"}}},
		{"top level is a scalar", doc(
			"# comment",
			"hello",
		), []wantErr{{2, "", `the top level must be a mapping of the sections mqtt, homeassistant, log and chargers, got "hello"`}}},
		{"two documents", doc(
			"log:",
			"  level: info",
			"---",
			"log:",
			"  level: debug",
		), []wantErr{{4, "", "only one YAML document is allowed"}}},
		{"merge of a scalar", doc(
			"log:",
			"  <<: text",
		), []wantErr{{2, "log", "<< needs a mapping or a list of mappings"}}},
		{"merge cycle", doc(
			"log: &x",
			"  <<: *x",
		), []wantErr{{2, "log", "nested too deeply"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(tt.in, "evbridge.yaml", testRegistry())
			if cfg != nil {
				t.Errorf("got a Config with errors")
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func TestParseAllErrorsAtOnce(t *testing.T) {
	in := doc(
		"mqtt:",
		"  keep_alive: 30",
		"  base_topic: evbridge/#",
		"log:",
		"  level: verbose",
		"chargers:",
		"  - name: garage",
		"    driver: goe",
		"    address: 192.0.2.20",
		"    max_curent: 10",
		"  - name: garage",
		"    driver: go-e",
		"    address: 192.0.2.21",
		"    timeout: 10s",
	)
	_, err := Parse(in, "evbridge.yaml", testRegistry())
	checkErrors(t, err, []wantErr{
		{2, "mqtt.keep_alive", "expected a duration"},
		{3, "mqtt.base_topic", "wildcards"},
		{5, "log.level", "must be one of debug, info, warn, error"},
		{10, "chargers[0].max_curent", "did you mean max_current?"},
		{11, "chargers[1].name", `name "garage" is already used by chargers[0] on line 7`},
		{12, "chargers[1].driver", `unknown driver "go-e"; did you mean goe? (known drivers: goe, modbusdrv)`},
		{14, "chargers[1].timeout", "must not be longer than poll_interval (2s), got 10s"},
	})
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 7 {
		t.Fatalf("Error() has %d lines, want 7:\n%v", len(lines), err)
	}
	if want := "evbridge.yaml:2:15: mqtt.keep_alive: expected a duration like 2s or 1m30s, got 30 (a duration needs a unit, e.g. 30s)"; lines[0] != want {
		t.Errorf("first line\n%s\nwant\n%s", lines[0], want)
	}
	if want := `evbridge.yaml:10:5: chargers[0].max_curent: unknown key "max_curent"; did you mean max_current?`; !strings.HasPrefix(lines[3], want) {
		t.Errorf("fourth line\n%s\nwant prefix\n%s", lines[3], want)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Column: 5, Path: "log.level", Msg: "bad"}, "a.yaml:3:5: log.level: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{Path: "x", Msg: "bad"}, "config: x: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
