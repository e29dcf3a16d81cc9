package ha_test

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/ha"
)

var opts = ha.Options{Version: "1.4.0", SupportURL: "https://github.com/evbridge/evbridge"}

var full = ha.ChargerInfo{ID: "garage", Address: "192.168.1.20", WebURL: "/",
	Identity:      charger.Identity{Brand: "go-e", Model: "Gemini", Serial: "012345", Firmware: "56.2"},
	CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 32, CurrentStep: 1, CanEnable: true, CanSwitchPhases: true,
	Modes: []string{"off", "now", "minpv", "pv"}, VehicleSoC: true}

type payload struct {
	Device           map[string]any            `json:"device"`
	Origin           map[string]any            `json:"origin"`
	Availability     []map[string]any          `json:"availability"`
	AvailabilityMode string                    `json:"availability_mode"`
	StateTopic       string                    `json:"state_topic"`
	Cmps             map[string]map[string]any `json:"cmps"`
}

func decode(t *testing.T, m ha.Message) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("%s: %v", m.Topic, err)
	}
	return p
}

func platforms(p payload) map[string]string {
	out := map[string]string{}
	for k, c := range p.Cmps {
		out[k], _ = c["platform"].(string)
	}
	return out
}

// The entity table of the README: key, platform, device_class, unit,
// state_class, entity_category, for a charger with every capability.
var entityTable = [][6]string{
	{"status", "sensor", "enum", "", "", ""},
	{"iec_state", "sensor", "enum", "", "", "diagnostic"},
	{"plug", "binary_sensor", "plug", "", "", ""},
	{"charging", "binary_sensor", "battery_charging", "", "", ""},
	{"power", "sensor", "power", "W", "measurement", ""},
	{"energy_total", "sensor", "energy", "kWh", "total_increasing", ""},
	{"session_energy", "sensor", "energy", "kWh", "", ""},
	{"current_l1", "sensor", "current", "A", "measurement", ""},
	{"current_l2", "sensor", "current", "A", "measurement", ""},
	{"current_l3", "sensor", "current", "A", "measurement", ""},
	{"voltage_l1", "sensor", "voltage", "V", "measurement", ""},
	{"voltage_l2", "sensor", "voltage", "V", "measurement", ""},
	{"voltage_l3", "sensor", "voltage", "V", "measurement", ""},
	{"current_limit", "number", "current", "A", "", ""},
	{"enabled", "switch", "", "", "", ""},
	{"phases", "select", "", "", "", ""},
	{"mode", "select", "", "", "", ""},
	{"error", "sensor", "", "", "", ""},
	{"temperature", "sensor", "temperature", "°C", "measurement", "diagnostic"},
	{"vehicle_soc", "sensor", "battery", "%", "measurement", ""},
	{"rssi", "sensor", "signal_strength", "dBm", "measurement", "diagnostic"},
	{"ip", "sensor", "", "", "", "diagnostic"},
	{"poll_latency", "sensor", "duration", "ms", "measurement", "diagnostic"},
	{"last_error", "sensor", "", "", "", "diagnostic"},
	{"link_problem", "binary_sensor", "problem", "", "", "diagnostic"},
	{"last_seen", "sensor", "timestamp", "", "", "diagnostic"},
	{"control_reason", "sensor", "", "", "", ""},
}

func TestChargerEntityTable(t *testing.T) {
	p := decode(t, ha.ChargerDevice(opts, full))
	if len(p.Cmps) != len(entityTable) {
		t.Errorf("want %d entities, got %d: %v", len(entityTable), len(p.Cmps), platforms(p))
	}
	str := func(c map[string]any, k string) string { s, _ := c[k].(string); return s }
	for _, row := range entityTable {
		c, ok := p.Cmps[row[0]]
		if !ok {
			t.Errorf("missing entity %s", row[0])
			continue
		}
		got := [6]string{row[0], str(c, "platform"), str(c, "device_class"), str(c, "unit_of_measurement"),
			str(c, "state_class"), str(c, "entity_category")}
		if got != row {
			t.Errorf("entity %s: want %v, got %v", row[0], row, got)
		}
		if c["unique_id"] != "evbridge_garage_"+row[0] {
			t.Errorf("%s unique_id %v", row[0], c["unique_id"])
		}
		if c["default_entity_id"] != row[1]+".garage_"+row[0] {
			t.Errorf("%s default_entity_id %v", row[0], c["default_entity_id"])
		}
		if _, has := c["object_id"]; has {
			t.Errorf("%s carries the deprecated object_id", row[0])
		}
	}
	status := p.Cmps["status"]["options"].([]any)
	if len(status) != len(charger.Statuses) {
		t.Fatalf("status options %v", status)
	}
	for i, s := range charger.Statuses {
		if status[i] != string(s) {
			t.Errorf("status option %d: want %s, got %v", i, s, status[i])
		}
	}
}

func TestChargerEntitySetPerCapability(t *testing.T) {
	cases := []struct {
		name      string
		info      ha.ChargerInfo
		has, lack map[string]string // key → platform
	}{
		{"all", full,
			map[string]string{"current_limit": "number", "enabled": "switch", "phases": "select", "mode": "select"},
			map[string]string{"offered_current": "", "enabled_state": "", "phases_active": ""}},
		{"none", ha.ChargerInfo{ID: "carport"},
			map[string]string{"offered_current": "sensor", "enabled_state": "binary_sensor", "phases_active": "sensor"},
			map[string]string{"current_limit": "", "enabled": "", "phases": "", "mode": "", "vehicle_soc": ""}},
		{"modes only", ha.ChargerInfo{ID: "x", Modes: []string{"pv"}},
			map[string]string{"mode": "select"}, map[string]string{"phases": ""}},
		{"empty modes", ha.ChargerInfo{ID: "x", Modes: []string{"", ""}},
			nil, map[string]string{"mode": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := platforms(decode(t, ha.ChargerDevice(opts, tc.info)))
			for k, pl := range tc.has {
				if got[k] != pl {
					t.Errorf("%s: want platform %s, got %q", k, pl, got[k])
				}
			}
			for k := range tc.lack {
				if _, ok := got[k]; ok {
					t.Errorf("unexpected entity %s", k)
				}
			}
		})
	}
}

func TestChargerDevice(t *testing.T) {
	m := ha.ChargerDevice(opts, full)
	if m.Topic != "homeassistant/device/evbridge_garage/config" || !m.Retain || m.QoS != 1 {
		t.Fatalf("topic %s retain %v qos %d", m.Topic, m.Retain, m.QoS)
	}
	p := decode(t, m)
	wantDev := map[string]any{"identifiers": []any{"evbridge_garage"}, "name": "Garage", "manufacturer": "go-e",
		"model": "Gemini", "serial_number": "012345", "sw_version": "56.2",
		"configuration_url": "http://192.168.1.20/", "via_device": "evbridge"}
	if !equalJSON(p.Device, wantDev) {
		t.Errorf("device: %v", p.Device)
	}
	if !equalJSON(p.Origin, map[string]any{"name": "evbridge", "sw_version": "1.4.0",
		"support_url": "https://github.com/evbridge/evbridge"}) {
		t.Errorf("origin: %v", p.Origin)
	}
	if !equalJSON(p.Availability, []map[string]any{{"topic": "evbridge/bridge/state"}, {"topic": "evbridge/garage/availability"}}) ||
		p.AvailabilityMode != "all" {
		t.Errorf("availability %v mode %q", p.Availability, p.AvailabilityMode)
	}
	if p.StateTopic != "evbridge/garage/state" {
		t.Errorf("state_topic %q", p.StateTopic)
	}
	n := p.Cmps["current_limit"]
	if n["min"] != 6.0 || n["max"] != 32.0 || n["step"] != 1.0 || n["command_topic"] != "evbridge/garage/set/current_limit" {
		t.Errorf("current_limit: %v", n)
	}
	if sw := p.Cmps["enabled"]; sw["payload_on"] != "ON" || sw["payload_off"] != "OFF" || sw["command_topic"] != "evbridge/garage/set/enabled" {
		t.Errorf("enabled: %v", sw)
	}
	if ph := p.Cmps["phases"]; !equalJSON(ph["options"], []string{"1", "3"}) || ph["command_topic"] != "evbridge/garage/set/phases" {
		t.Errorf("phases: %v", ph)
	}
	if md := p.Cmps["mode"]; !equalJSON(md["options"], full.Modes) || md["command_topic"] != "evbridge/garage/set/mode" {
		t.Errorf("mode: %v", md)
	}
	for k, c := range p.Cmps {
		if name, _ := c["name"].(string); name == "" || strings.HasPrefix(strings.ToLower(name), "garage") {
			t.Errorf("%s: name %q is empty or repeats the device name", k, name)
		}
	}
}

func TestChargerDeviceEmptyIdentity(t *testing.T) {
	p := decode(t, ha.ChargerDevice(ha.Options{}, ha.ChargerInfo{ID: "drive_way-2"}))
	want := map[string]any{"identifiers": []any{"evbridge_drive_way-2"}, "name": "Drive Way 2", "via_device": "evbridge"}
	if !equalJSON(p.Device, want) {
		t.Errorf("device: %v (no empty or null fields allowed)", p.Device)
	}
	if !equalJSON(p.Origin, map[string]any{"name": "evbridge"}) {
		t.Errorf("origin %v", p.Origin)
	}
}

func TestCurrentRangeRepaired(t *testing.T) {
	cases := []struct {
		info          ha.ChargerInfo
		min, max, stp float64
	}{
		{ha.ChargerInfo{MinCurrent: 6, MaxCurrent: 16, CurrentStep: 0.1}, 6, 16, 0.1},
		{ha.ChargerInfo{}, 6, 16, 1},
		{ha.ChargerInfo{MinCurrent: math.NaN(), MaxCurrent: math.Inf(1), CurrentStep: math.NaN()}, 6, 16, 1},
		{ha.ChargerInfo{MinCurrent: 20, MaxCurrent: 10, CurrentStep: 2}, 20, 22, 2},
		{ha.ChargerInfo{MinCurrent: 6, MaxCurrent: 32, CurrentStep: 0.0001}, 6, 32, 1},
	}
	for _, tc := range cases {
		tc.info.ID, tc.info.CanSetCurrent = "x", true
		n := decode(t, ha.ChargerDevice(opts, tc.info)).Cmps["current_limit"]
		if n["min"] != tc.min || n["max"] != tc.max || n["step"] != tc.stp {
			t.Errorf("%+v: got min %v max %v step %v", tc.info, n["min"], n["max"], n["step"])
		}
	}
}

func TestBridgeDevice(t *testing.T) {
	m := ha.BridgeDevice(opts)
	if m.Topic != "homeassistant/device/evbridge/config" || !m.Retain || m.QoS != 1 {
		t.Fatalf("topic %s retain %v qos %d", m.Topic, m.Retain, m.QoS)
	}
	p := decode(t, m)
	if !equalJSON(p.Device["identifiers"], []string{"evbridge"}) || p.Device["sw_version"] != "1.4.0" {
		t.Errorf("device %v", p.Device)
	}
	conn := p.Cmps["connection"]
	if conn["device_class"] != "connectivity" || conn["state_topic"] != "evbridge/bridge/state" ||
		conn["payload_on"] != "online" || conn["payload_off"] != "offline" {
		t.Errorf("connection %v", conn)
	}
	if _, has := conn["availability_topic"]; has {
		t.Error("the connection sensor must stay available to show offline")
	}
	if c := p.Cmps["chargers"]; c["availability_topic"] != "evbridge/bridge/state" || p.StateTopic != "evbridge/bridge/info" {
		t.Errorf("chargers %v, state_topic %s", c, p.StateTopic)
	}
}

func TestDeterministic(t *testing.T) {
	a := ha.ChargerDevice(opts, full)
	for range 20 {
		if b := ha.ChargerDevice(opts, full); !bytes.Equal(a.Payload, b.Payload) {
			t.Fatal("payload differs between calls")
		}
		if b := ha.BridgeDevice(opts); !bytes.Equal(b.Payload, ha.BridgeDevice(opts).Payload) {
			t.Fatal("bridge payload differs between calls")
		}
	}
	if bytes.Contains(a.Payload, []byte(`\u003c`)) || bytes.Contains(a.Payload, []byte(`\u003e`)) {
		t.Error("templates should not be HTML-escaped")
	}
}

func TestRemoval(t *testing.T) {
	m := ha.Removal(ha.Options{Prefix: "hass"}, "evbridge_garage")
	if m.Topic != "hass/device/evbridge_garage/config" || len(m.Payload) != 0 || !m.Retain || m.QoS != 1 {
		t.Fatalf("%+v", m)
	}
}

func TestObjectIDs(t *testing.T) {
	if got := ha.ChargerObjectID(opts, "garage"); got != "evbridge_garage" {
		t.Error(got)
	}
	if got := ha.ChargerObjectID(ha.Options{BridgeID: "evb 2"}, "Carport.Left"); got != "evb_2_Carport_Left" {
		t.Error(got)
	}
	if got := ha.BridgeObjectID(ha.Options{}); got != "evbridge" {
		t.Error(got)
	}
	m := ha.ChargerDevice(ha.Options{}, ha.ChargerInfo{ID: "Carport.Left"})
	if !strings.Contains(string(m.Payload), `"default_entity_id":"sensor.carport_left_power"`) {
		t.Error("default_entity_id should be slugged from the charger id")
	}
}

// Value templates must survive missing keys: never value_json.<key>, which
// fails (stale state) when the key is absent; always value_json.get().
func TestTemplatesSafeForMissingKeys(t *testing.T) {
	attr := regexp.MustCompile(`value_json\.(\w+)`)
	for _, m := range []ha.Message{ha.ChargerDevice(opts, full), ha.ChargerDevice(opts, ha.ChargerInfo{ID: "x"}), ha.BridgeDevice(opts)} {
		for k, c := range decode(t, m).Cmps {
			tpl, _ := c["value_template"].(string)
			for _, g := range attr.FindAllStringSubmatch(tpl, -1) {
				if g[1] != "get" {
					t.Errorf("%s: template indexes value_json.%s directly: %s", k, g[1], tpl)
				}
			}
		}
	}
}

func TestChargerNameAndURL(t *testing.T) {
	cases := []struct {
		info     ha.ChargerInfo
		name, cu string
	}{
		{ha.ChargerInfo{ID: "garage_left"}, "Garage Left", ""},
		{ha.ChargerInfo{ID: "x", Name: "  Einfahrt  "}, "Einfahrt", ""},
		{ha.ChargerInfo{ID: "___"}, "Charger", ""},
		{ha.ChargerInfo{ID: "a", Address: "10.0.0.5:8080", WebURL: "status"}, "A", "http://10.0.0.5:8080/status"},
		{ha.ChargerInfo{ID: "a", WebURL: "/"}, "A", ""},
		{ha.ChargerInfo{ID: "a", Address: "h", WebURL: "https://wb.local/ui"}, "A", "https://wb.local/ui"},
		{ha.ChargerInfo{ID: "a", Address: "h", WebURL: "ftp://wb.local/"}, "A", ""},
	}
	for _, tc := range cases {
		d := decode(t, ha.ChargerDevice(opts, tc.info)).Device
		cu, _ := d["configuration_url"].(string)
		if d["name"] != tc.name || cu != tc.cu {
			t.Errorf("%+v: got name %v url %q", tc.info, d["name"], cu)
		}
	}
}

func TestIsOwnDiscovery(t *testing.T) {
	own := ha.ChargerDevice(opts, full)
	if id, ok := ha.IsOwnDiscovery(opts, own.Topic, own.Payload); !ok || id != "evbridge_garage" {
		t.Fatalf("own charger: %q %v", id, ok)
	}
	br := ha.BridgeDevice(opts)
	if id, ok := ha.IsOwnDiscovery(opts, br.Topic, br.Payload); !ok || id != "evbridge" {
		t.Fatalf("own bridge: %q %v", id, ok)
	}
	otherBase := ha.Options{BaseTopic: "evbridge2", Version: "1"}
	foreign := ha.ChargerDevice(otherBase, full)
	otherBridge := ha.ChargerDevice(ha.Options{BridgeID: "upstairs"}, full)
	z2m := `{"device":{"identifiers":["zigbee2mqtt_0x1"],"name":"plug","via_device":"zigbee2mqtt_bridge_0x0"},` +
		`"origin":{"name":"Zigbee2MQTT"},"cmps":{"p":{"p":"switch","state_topic":"evbridge/plug"}}}`
	cases := []struct {
		name, topic, payload string
	}{
		{"different base topic", foreign.Topic, string(foreign.Payload)},
		{"different bridge id", otherBridge.Topic, string(otherBridge.Payload)},
		{"other origin", "homeassistant/device/plug/config", z2m},
		{"empty", own.Topic, ""},
		{"garbage", own.Topic, "garbage"},
		{"array", own.Topic, "[]"},
		{"origin not an object", own.Topic, `{"origin":"evbridge","device":{"via_device":"evbridge"},"state_topic":"evbridge/x"}`},
		{"no device", own.Topic, `{"origin":{"name":"evbridge"},"state_topic":"evbridge/x/state"}`},
		{"other prefix", strings.Replace(own.Topic, "homeassistant/", "hass/", 1), string(own.Payload)},
		{"node id topic", "homeassistant/device/evbridge_garage/x/config", string(own.Payload)},
		{"entity topic", "homeassistant/sensor/evbridge_garage/config", string(own.Payload)},
	}
	for _, tc := range cases {
		if id, ok := ha.IsOwnDiscovery(opts, tc.topic, []byte(tc.payload)); ok {
			t.Errorf("%s: claimed as own (%q)", tc.name, id)
		}
	}
	short := `{"o":{"name":"evbridge"},"dev":{"ids":"evbridge_gone","via_device":"evbridge"},"stat_t":"evbridge/gone/state","cmps":{}}`
	if id, ok := ha.IsOwnDiscovery(opts, "homeassistant/device/evbridge_gone/config", []byte(short)); !ok || id != "evbridge_gone" {
		t.Errorf("short-form own payload: %q %v", id, ok)
	}
}

func TestMergeRemovals(t *testing.T) {
	prev := ha.ChargerDevice(opts, full)
	next := ha.ChargerDevice(opts, ha.ChargerInfo{ID: "garage", CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 32, CurrentStep: 1})
	merged := ha.MergeRemovals(prev.Payload, next)
	p := decode(t, merged)
	var removed []string
	for k, c := range p.Cmps {
		if len(c) == 1 {
			removed = append(removed, k+"="+c["platform"].(string))
		}
	}
	sort.Strings(removed)
	want := []string{"control_reason=sensor", "enabled=switch", "mode=select", "phases=select", "vehicle_soc=sensor"}
	if !slices.Equal(removed, want) {
		t.Errorf("removal entries: want %v, got %v", want, removed)
	}
	if merged.Topic != next.Topic || !merged.Retain {
		t.Errorf("message fields changed: %+v", merged)
	}
	if again := ha.MergeRemovals(prev.Payload, next); !bytes.Equal(again.Payload, merged.Payload) {
		t.Error("not deterministic")
	}
	if same := ha.MergeRemovals(prev.Payload, prev); !bytes.Equal(same.Payload, prev.Payload) {
		t.Error("nothing removed must leave the payload as is")
	}
	if same := ha.MergeRemovals([]byte("junk"), next); !bytes.Equal(same.Payload, next.Payload) {
		t.Error("an unparsable previous payload must leave next as is")
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
