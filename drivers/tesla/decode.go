package tesla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

// repair fixes the two known firmware slips and nothing else: bare nan
// (or -nan, inf) outside strings becomes null, and a lone missing closing
// brace is added when that makes the reply valid.
func repair(body []byte) []byte {
	body = bytes.TrimSpace(body)
	if json.Valid(body) {
		return body
	}
	out := make([]byte, 0, len(body))
	inString, escaped := false, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		default:
			if n := badNumber(body[i:]); n > 0 {
				out = append(out, "null"...)
				i += n - 1
				continue
			}
		}
		out = append(out, c)
	}
	if !json.Valid(out) && json.Valid(append(bytes.Clone(out), '}')) {
		out = append(out, '}')
	}
	return out
}

// badNumber is the length of a nan/inf token at the start of b, else 0.
func badNumber(b []byte) int {
	for _, tok := range [...]string{"-nan", "nan", "-inf", "inf"} {
		if len(b) >= len(tok) && strings.EqualFold(string(b[:len(tok)]), tok) {
			if len(b) == len(tok) || strings.IndexByte(" \t\r\n,}]", b[len(tok)]) >= 0 {
				return len(tok)
			}
		}
	}
	return 0
}

// object decodes one (repaired) JSON object into its keys.
func object(body []byte) (map[string]json.RawMessage, error) { return jsonfield.Object(body, repair) }

// fields reads typed values and keeps the first error, naming its key.
// Absent or null keys read as nil or "".
type fields struct {
	m   map[string]json.RawMessage
	err error
}

func (f *fields) raw(key string, required bool) json.RawMessage {
	r, ok := f.m[key]
	if f.err != nil {
		return nil
	}
	if !ok && required {
		f.err = fmt.Errorf("%w: missing key %q", charger.ErrBadReply, key)
	}
	if r = bytes.TrimSpace(r); len(r) == 0 || r[0] == 'n' {
		return nil
	}
	return r
}

func (f *fields) fail(key string, r json.RawMessage, want string) {
	f.err = fmt.Errorf("%w: key %q: want %s, got %s", charger.ErrBadReply, key, want, snippet(r))
}

func (f *fields) num(key string, lo, hi float64) *float64 {
	r := f.raw(key, false)
	if r == nil {
		return nil
	}
	var v float64
	if r[0] == '"' || r[0] == 't' || r[0] == 'f' || r[0] == '[' || r[0] == '{' || json.Unmarshal(r, &v) != nil ||
		v < lo || v > hi {
		f.fail(key, r, fmt.Sprintf("a number in %v..%v", lo, hi))
		return nil
	}
	return &v
}

func (f *fields) boolean(key string, required bool) bool {
	r := f.raw(key, required)
	var v bool
	if r != nil && json.Unmarshal(r, &v) != nil {
		f.fail(key, r, "a bool")
	}
	return v
}

func (f *fields) str(key string) string {
	r := f.raw(key, false)
	if r == nil {
		return ""
	}
	var v string
	if r[0] != '"' || json.Unmarshal(r, &v) != nil || !jsonfield.Plain(v, 128) {
		f.fail(key, r, "a short plain string")
		return ""
	}
	return v
}

func (f *fields) strs(key string) []string {
	r := f.raw(key, false)
	if r == nil {
		return nil
	}
	var v []string
	if r[0] != '[' || json.Unmarshal(r, &v) != nil || len(v) > 32 {
		f.fail(key, r, "a list of strings")
		return nil
	}
	for _, s := range v {
		if len(s) > 64 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 }) {
			f.fail(key, r, "a list of short plain strings")
			return nil
		}
	}
	return v
}

// vitals is one decoded /api/1/vitals.
type vitals struct {
	contactor, vehicle bool
	evseState          *int
	gridV, vehicleA    *float64
	amps, volts        [3]*float64 // phases A, B, C
	temps              []float64   // pcba, handle, mcu: those present
	sessionWh          float64
	uptime             *float64
	alerts             []string
}

const (
	maxVolts = 1000.0
	maxAmps  = 200.0
	maxWh    = 1e12
)

func parseVitals(body []byte) (*vitals, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	v := &vitals{
		contactor: f.boolean("contactor_closed", true),
		vehicle:   f.boolean("vehicle_connected", true),
		gridV:     f.num("grid_v", 0, maxVolts),
		vehicleA:  f.num("vehicle_current_a", -maxAmps, maxAmps),
		uptime:    f.num("uptime_s", 0, 1e10),
		alerts:    f.strs("current_alerts"),
	}
	if s := f.num("evse_state", 0, 255); s != nil {
		if *s != math.Trunc(*s) {
			f.fail("evse_state", m["evse_state"], "an integer")
		}
		v.evseState = charger.Ptr(int(*s))
	}
	for i, p := range [...]string{"A", "B", "C"} {
		v.amps[i] = f.num("current"+p+"_a", -maxAmps, maxAmps)
		v.volts[i] = f.num("voltage"+p+"_v", 0, maxVolts)
	}
	for _, k := range [...]string{"pcba_temp_c", "handle_temp_c", "mcu_temp_c"} {
		if t := f.num(k, -60, 200); t != nil {
			v.temps = append(v.temps, *t)
		}
	}
	if f.raw("session_energy_wh", true) != nil {
		if wh := f.num("session_energy_wh", 0, maxWh); wh != nil {
			v.sessionWh = *wh
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// version is /api/1/version.
type version struct{ firmware, part, serial string }

func parseVersion(body []byte) (*version, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	v := &version{firmware: f.str("firmware_version"), part: f.str("part_number"), serial: f.str("serial_number")}
	switch {
	case f.err != nil:
		return nil, f.err
	case v.serial == "":
		return nil, fmt.Errorf("%w: no serial_number", charger.ErrBadReply)
	}
	return v, nil
}

// parseLifetime returns energy_wh, the lifetime energy (Wh).
func parseLifetime(body []byte) (*float64, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	f.raw("energy_wh", true)
	wh := f.num("energy_wh", 0, maxWh)
	return wh, f.err
}

// parseWifi returns wifi_rssi, dBm.
func parseWifi(body []byte) (*float64, error) {
	m, err := object(body)
	if err != nil {
		return nil, err
	}
	f := &fields{m: m}
	rssi := f.num("wifi_rssi", -127, 0)
	return rssi, f.err
}

// snippet quotes the start of a reply for an error message.
func snippet(b []byte) string { return jsonfield.Snippet(b) }
