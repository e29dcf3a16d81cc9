package openevse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

// object checks that body is one JSON object and splits it into keys.
func object(body []byte) (map[string]json.RawMessage, error) { return jsonfield.Object(body, nil) }

// fields reads typed values from one JSON object and keeps the first
// error, naming its key. Absent or null keys read as nil or "".
type fields struct {
	m   map[string]json.RawMessage
	err error
}

func (f *fields) fail(key, format string, a ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: key %q: %s", charger.ErrBadReply, key, fmt.Sprintf(format, a...))
	}
}

func (f *fields) raw(key string) (json.RawMessage, bool) {
	r, ok := f.m[key]
	if !ok || f.err != nil {
		return nil, false
	}
	r = bytes.TrimSpace(r)
	return r, len(r) > 0 && r[0] != 'n'
}

// num reads a number within lo..hi. allowFalse takes false as absent: the
// firmware writes false for a temperature sensor that is not fitted.
func (f *fields) num(key string, lo, hi float64, allowFalse bool) *float64 {
	r, ok := f.raw(key)
	if !ok {
		return nil
	}
	if allowFalse && string(r) == "false" {
		return nil
	}
	var v float64
	if r[0] == '"' || r[0] == '{' || r[0] == '[' || r[0] == 't' || r[0] == 'f' || json.Unmarshal(r, &v) != nil {
		f.fail(key, "want a number, got %s", snippet(r))
		return nil
	}
	if math.IsNaN(v) || v < lo || v > hi {
		f.fail(key, "%v outside %v..%v", v, lo, hi)
		return nil
	}
	return &v
}

// integer is num for whole numbers.
func (f *fields) integer(key string, lo, hi int) *int {
	v := f.num(key, float64(lo), float64(hi), false)
	if v == nil {
		return nil
	}
	if *v != math.Trunc(*v) {
		f.fail(key, "%v is not an integer", *v)
		return nil
	}
	n := int(*v)
	return &n
}

func (f *fields) boolean(key string) *bool {
	r, ok := f.raw(key)
	if !ok {
		return nil
	}
	var v bool
	if json.Unmarshal(r, &v) != nil {
		f.fail(key, "want a bool, got %s", snippet(r))
		return nil
	}
	return &v
}

func (f *fields) str(key string) string {
	r, ok := f.raw(key)
	if !ok {
		return ""
	}
	var v string
	if r[0] != '"' || json.Unmarshal(r, &v) != nil {
		f.fail(key, "want a string, got %s", snippet(r))
		return ""
	}
	if !jsonfield.Plain(v, 128) {
		f.fail(key, "implausible string %s", snippet([]byte(v)))
		return ""
	}
	return v
}

// status is one decoded GET /status (src/web_server.cpp buildStatus,
// src/input.cpp create_rapi_json, src/energy_meter.cpp).
type status struct {
	state          int      // EVSE state (table in stateName)
	vehicle        *bool    // vehicle connected
	claimState     string   // "active", "disabled" or "none": the claims' verdict
	milliamps      float64  // amp, mA
	volts          *float64 // voltage, V
	watts          *float64 // power, W (newer firmware)
	pilot          *int     // A offered on the pilot
	sessionWh      *float64 // session_energy, Wh
	totalKWh       *float64 // total_energy, kWh
	temp           *float64 // °C, temp or the hottest of temp1..4
	rssi           *float64 // srssi, dBm
	manualOverride bool
	mac            string
	configVersion  *int
}

// Plausibility bounds: anything outside is a broken reply.
const (
	maxVolts  = 1000.0
	maxAmps   = 200.0
	maxWatts  = 250000.0
	maxKWh    = 1e9
	maxTempC  = 200.0
	maxTenthC = maxTempC * 10
)

func parseStatus(body []byte) (*status, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	for _, k := range [...]string{"state", "amp"} {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("%w: missing key %q", charger.ErrBadReply, k)
		}
	}
	f := &fields{m: m}
	s := &status{}
	if p := f.integer("state", 0, 255); p != nil {
		s.state = *p
	}
	if v := f.integer("vehicle", 0, 1); v != nil {
		s.vehicle = charger.Ptr(*v == 1)
	}
	s.claimState = f.str("status")
	if a := f.num("amp", -1000, maxAmps*1000, false); a != nil {
		s.milliamps = *a
	}
	s.volts = f.num("voltage", 0, maxVolts, false)
	s.watts = f.num("power", -maxWatts, maxWatts, false)
	s.pilot = f.integer("pilot", 0, 255)
	s.sessionWh = f.num("session_energy", 0, maxKWh*1000, false)
	if s.sessionWh == nil { // firmware before the energy meter: wattsec, Ws
		if ws := f.num("wattsec", 0, maxKWh*3.6e6, false); ws != nil {
			s.sessionWh = charger.Ptr(*ws / 3600)
		}
	}
	s.totalKWh = f.num("total_energy", 0, maxKWh, false)
	if s.totalKWh == nil { // older: watthour, Wh
		if wh := f.num("watthour", 0, maxKWh*1000, false); wh != nil {
			s.totalKWh = charger.Ptr(*wh / 1000)
		}
	}
	if t := f.num("temp", -600, maxTenthC, true); t != nil {
		s.temp = charger.Ptr(*t / 10)
	} else {
		// No derived temp (older firmware): the hottest fitted sensor.
		// -2560 (-256 °C) is what old firmware shows for a missing one.
		for _, k := range [...]string{"temp1", "temp2", "temp3", "temp4"} {
			if t := f.num(k, -3000, maxTenthC, true); t != nil && *t > -600 && (s.temp == nil || *t/10 > *s.temp) {
				s.temp = charger.Ptr(*t / 10)
			}
		}
	}
	s.rssi = f.num("srssi", -127, 0, false)
	if mo := f.integer("manual_override", 0, 1); mo != nil {
		s.manualOverride = *mo == 1
	}
	s.mac = f.str("macaddress")
	s.configVersion = f.integer("config_version", 0, math.MaxInt32)
	if f.err != nil {
		return nil, f.err
	}
	return s, nil
}

// config is the part of GET /config the driver uses (models/Config.yaml).
type config struct {
	firmware, version, buildenv, hostname string
	minHard, maxHard, maxSoft             *int
	threePhase                            bool
}

func parseConfig(body []byte) (*config, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	c := &config{
		firmware: f.str("firmware"), version: f.str("version"), buildenv: f.str("buildenv"),
		hostname: f.str("hostname"),
		minHard:  f.integer("min_current_hard", 0, 255),
		maxHard:  f.integer("max_current_hard", 0, 255),
		maxSoft:  f.integer("max_current_soft", 0, 255),
	}
	if p := f.boolean("is_threephase"); p != nil {
		c.threePhase = *p
	}
	if f.err != nil {
		return nil, f.err
	}
	return c, nil
}

// props are claim or override properties (models/Properties.yaml,
// EvseProperties in src/evse_man.cpp): what a client wants set. Unset
// fields are not claimed.
type props struct {
	State         string `json:"state,omitempty"` // "active" or "disabled"
	ChargeCurrent *int   `json:"charge_current,omitempty"`
	MaxCurrent    *int   `json:"max_current,omitempty"`
	AutoRelease   *bool  `json:"auto_release,omitempty"`
}

// parseProps decodes a claim or override. An override that is not there
// reads as nil: the documented 404, and the {} or {"msg":...} other
// firmware versions answer with (src/web_server.cpp handleOverrideGet;
// python-openevse-http treats a lone "msg" as none).
func parseProps(body []byte) (*props, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	p := &props{State: f.str("state"), ChargeCurrent: f.integer("charge_current", 0, 255),
		MaxCurrent: f.integer("max_current", 0, 255), AutoRelease: f.boolean("auto_release")}
	if f.err != nil {
		return nil, f.err
	}
	switch p.State {
	case "", "active", "disabled":
	default:
		return nil, fmt.Errorf("%w: key \"state\": unknown state %q", charger.ErrBadReply, p.State)
	}
	if p.State == "" && p.ChargeCurrent == nil && p.MaxCurrent == nil {
		return nil, nil
	}
	return p, nil
}

// describe lists what an override holds, e.g. "state=disabled, 10 A".
func (p *props) describe() string {
	var parts []string
	if p.State != "" {
		parts = append(parts, "state="+p.State)
	}
	if p.ChargeCurrent != nil {
		parts = append(parts, fmt.Sprintf("charge_current=%d A", *p.ChargeCurrent))
	}
	if p.MaxCurrent != nil {
		parts = append(parts, fmt.Sprintf("max_current=%d A", *p.MaxCurrent))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
