package config

import (
	"os"
	"path/filepath"
	"testing"
)

// chargerDoc is a file with one charger: line 2 is "- name:", line 3
// driver, line 4 address, then extra lines from line 5.
func chargerDoc(name, driver, address string, extra ...string) []byte {
	lines := []string{"chargers:", "  - name: " + name, "    driver: " + driver, "    address: " + address}
	for _, e := range extra {
		lines = append(lines, "    "+e)
	}
	return doc(lines...)
}

func TestParseChargerErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []wantErr
	}{
		{"name required", doc("chargers:", "  - driver: goe", "    address: 192.0.2.20"),
			[]wantErr{{2, "chargers[0].name", "name is required"}}},
		{"empty entry", doc("chargers:", "  - garage"),
			[]wantErr{{2, "chargers[0]", "expected a mapping with keys name, driver, address"}}},
		{"bad name", chargerDoc("Garage-1", "goe", "192.0.2.20"),
			[]wantErr{{2, "chargers[0].name", `must be 1 to 64 lowercase letters, digits or _, starting with a letter or digit, got "Garage-1"; did you mean garage_1?`}}},
		{"long name", chargerDoc("a123456789a123456789a123456789a123456789a123456789a123456789abcde", "goe", "192.0.2.20"),
			[]wantErr{{2, "chargers[0].name", "must be 1 to 64"}}},
		{"duplicate name", doc(
			"chargers:",
			"  - {name: garage, driver: goe, address: 192.0.2.20}",
			"  - {name: carport, driver: goe, address: 192.0.2.21}",
			"  - {name: garage, driver: goe, address: 192.0.2.22}",
		), []wantErr{{4, "chargers[2].name", `name "garage" is already used by chargers[0] on line 2`}}},
		{"driver required", doc("chargers:", "  - name: garage", "    address: 192.0.2.20"),
			[]wantErr{{2, "chargers[0].driver", "driver is required (known drivers: goe, modbusdrv)"}}},
		{"unknown driver", chargerDoc("garage", "keba", "192.0.2.20"),
			[]wantErr{{3, "chargers[0].driver", `unknown driver "keba" (known drivers: goe, modbusdrv)`}}},
		{"address required", doc("chargers:", "  - name: garage", "    driver: goe"),
			[]wantErr{{2, "chargers[0].address", "address is required"}}},
		{"address is a URL", chargerDoc("garage", "goe", "http://192.0.2.20/"),
			[]wantErr{{4, "chargers[0].address", "must be a host or host:port, not a URL"}}},
		{"address port", chargerDoc("garage", "goe", "192.0.2.20:99999"),
			[]wantErr{{4, "chargers[0].address", `port must be a number from 1 to 65535, got "99999"`}}},
		{"address host", chargerDoc("garage", "goe", `"my charger"`),
			[]wantErr{{4, "chargers[0].address", `"my charger" is not a valid host name or IP address`}}},
		{"max_current low", chargerDoc("garage", "goe", "192.0.2.20", "max_current: 5"),
			[]wantErr{{5, "chargers[0].max_current", "must be between 6 and 80 A, got 5"}}},
		{"max_current high", chargerDoc("garage", "goe", "192.0.2.20", "max_current: 80.5"),
			[]wantErr{{5, "chargers[0].max_current", "got 80.5"}}},
		{"max_current NaN", chargerDoc("garage", "goe", "192.0.2.20", "max_current: .nan"),
			[]wantErr{{5, "chargers[0].max_current", "got NaN"}}},
		{"poll_interval low", chargerDoc("garage", "goe", "192.0.2.20", "poll_interval: 100ms"),
			[]wantErr{{5, "chargers[0].poll_interval", "must be between 200ms and 10m0s, got 100ms"}}},
		{"poll_interval zero", chargerDoc("garage", "goe", "192.0.2.20", "poll_interval: 0s"),
			[]wantErr{{5, "chargers[0].poll_interval", "got 0s"}}},
		{"poll_interval high", chargerDoc("garage", "goe", "192.0.2.20", "poll_interval: 11m"),
			[]wantErr{{5, "chargers[0].poll_interval", "got 11m0s"}}},
		{"timeout over poll_interval", chargerDoc("garage", "goe", "192.0.2.20", "poll_interval: 1s", "timeout: 1500ms"),
			[]wantErr{{6, "chargers[0].timeout", "must not be longer than poll_interval (1s), got 1.5s"}}},
		{"timeout low", chargerDoc("garage", "goe", "192.0.2.20", "timeout: 10ms"),
			[]wantErr{{5, "chargers[0].timeout", "must be at least 100ms, got 10ms"}}},
		{"options for a driver without options", chargerDoc("garage", "goe", "192.0.2.20", "options:", "  token: x"),
			[]wantErr{{5, "chargers[0].options", "driver goe takes no options; remove this block"}}},
		{"options Validate", chargerDoc("wallbox", "modbusdrv", "192.0.2.21", "options:", "  unit_id: 0"),
			[]wantErr{{5, "chargers[0].options", "unit_id must be between 1 and 247"}}},
		{"options not a mapping", chargerDoc("wallbox", "modbusdrv", "192.0.2.21", "options: fast"),
			[]wantErr{{5, "chargers[0].options", "expected a mapping with keys serial, unit_id, token, meter"}}},
		{"options of an unknown driver are not checked", chargerDoc("garage", "nope", "192.0.2.20", "options: {x: 1}"),
			[]wantErr{{3, "chargers[0].driver", `unknown driver "nope"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in, "evbridge.yaml", testRegistry())
			checkErrors(t, err, tt.want)
		})
	}
}

func TestParseSettingErrors(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want []wantErr
	}{
		{"broker scheme", doc("mqtt:", "  broker: http://192.0.2.10:1883"),
			[]wantErr{{2, "mqtt.broker", `unsupported scheme "http"; use one of tcp://, mqtt://, ssl://, tls://, mqtts://, ws://, wss://`}}},
		{"broker without scheme", doc("mqtt:", "  broker: 192.0.2.10:1883"),
			[]wantErr{{2, "mqtt.broker", "must be a URL such as tcp://192.0.2.10:1883"}}},
		{"broker credentials", doc("mqtt:", "  broker: tcp://u:p@192.0.2.10:1883"),
			[]wantErr{{2, "mqtt.broker", "must not hold credentials"}}},
		{"broker port", doc("mqtt:", "  broker: mqtts://broker.example"),
			[]wantErr{{2, "mqtt.broker", "needs a port, such as mqtts://broker.example:1883"}}},
		{"broker port range", doc("mqtt:", "  broker: tcp://192.0.2.10:0"),
			[]wantErr{{2, "mqtt.broker", "port must be a number from 1 to 65535"}}},
		{"password without username", doc("mqtt:", "  broker: tcp://192.0.2.10:1883", "  password: s3cret"),
			[]wantErr{{3, "mqtt.password", "password is set but username is empty"}}},
		{"empty client id", doc("mqtt:", `  client_id: ""`),
			[]wantErr{{2, "mqtt.client_id", "must not be empty"}}},
		{"listen", doc("mqtt:", "  embedded:", "    listen: 1883"),
			[]wantErr{{3, "mqtt.embedded.listen", `must be host:port such as 127.0.0.1:1883 or 0.0.0.0:1883, got "1883"`}}},
		{"keep_alive fraction", doc("mqtt:", "  keep_alive: 1500ms"),
			[]wantErr{{2, "mqtt.keep_alive", "must be whole seconds, got 1.5s"}}},
		{"keep_alive zero", doc("mqtt:", "  keep_alive: 0s"),
			[]wantErr{{2, "mqtt.keep_alive", "must be between 1s and 18h12m15s, got 0s"}}},
		{"base_topic wildcard", doc("mqtt:", "  base_topic: home/+/evbridge"),
			[]wantErr{{2, "mqtt.base_topic", `must not contain the MQTT wildcards + or #, got "home/+/evbridge"`}}},
		{"base_topic hash", doc("mqtt:", `  base_topic: "evbridge/#"`),
			[]wantErr{{2, "mqtt.base_topic", "wildcards"}}},
		{"base_topic $", doc("mqtt:", `  base_topic: $SYS/evbridge`),
			[]wantErr{{2, "mqtt.base_topic", "must not start with $"}}},
		{"base_topic slash", doc("mqtt:", `  base_topic: evbridge/`),
			[]wantErr{{2, "mqtt.base_topic", "must not start or end with /"}}},
		{"base_topic empty", doc("mqtt:", `  base_topic: ""`),
			[]wantErr{{2, "mqtt.base_topic", "must not be empty"}}},
		{"tls cert without key", doc("mqtt:", "  broker: mqtts://192.0.2.10:8883", "  tls:", "    cert_file: "+cert),
			[]wantErr{{4, "mqtt.tls.cert_file", "cert_file is set without key_file"}}},
		{"tls key without cert", doc("mqtt:", "  broker: mqtts://192.0.2.10:8883", "  tls:", "    key_file: "+cert),
			[]wantErr{{4, "mqtt.tls.key_file", "key_file is set without cert_file"}}},
		{"tls file missing", doc("mqtt:", "  broker: ssl://192.0.2.10:8883", "  tls:", "    ca_file: missing-ca.pem"),
			[]wantErr{{4, "mqtt.tls.ca_file", "cannot use ca_file: stat missing-ca.pem: no such file or directory"}}},
		{"tls with plain broker", doc("mqtt:", "  broker: tcp://192.0.2.10:1883", "  tls:", "    server_name: broker.example"),
			[]wantErr{{3, "mqtt.tls", "tls is set but the broker URL is not encrypted"}}},
		{"tls with embedded broker", doc("mqtt:", "  tls:", "    insecure_skip_verify: true"),
			[]wantErr{{2, "mqtt.tls", "tls applies to an external broker"}}},
		{"ha prefix", doc("homeassistant:", "  prefix: ha/#"),
			[]wantErr{{2, "homeassistant.prefix", "wildcards"}}},
		{"ha status topic", doc("homeassistant:", "  status_topic: /status"),
			[]wantErr{{2, "homeassistant.status_topic", "must not start or end with /"}}},
		{"log level", doc("log:", "  level: warning"),
			[]wantErr{{2, "log.level", `must be one of debug, info, warn, error, got "warning"; did you mean warn?`}}},
		{"log format", doc("log:", "  format: logfmt"),
			[]wantErr{{2, "log.format", `must be one of text, json, got "logfmt"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Parse with source "" so relative paths are taken from ".".
			_, err := Parse(tt.in, "", testRegistry())
			checkErrors(t, err, tt.want)
		})
	}
}
