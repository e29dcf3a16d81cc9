package keba

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evbridge/evbridge/bridge/charger"
)

// kind is what a datagram from a station is.
type kind int

const (
	kindJunk   kind = iota // not the protocol
	kindAck                // "TCH-OK :done": a command was received
	kindNack               // "TCH-ERR…": taken as a refusal (no guide shows it; VERIFY)
	kindReport             // a JSON report with an "ID"
	kindStatus             // a JSON status message without "ID", pushed on change
)

// datagram is one classified datagram.
type datagram struct {
	kind   kind
	id     int                        // report ID, for kindReport
	fields map[string]json.RawMessage // JSON keys, for kindReport and kindStatus
	raw    []byte
	err    error // why it is junk
}

// classify sorts a datagram without trusting anything in it. It never
// panics; a report's fields are checked later by the report's parser.
func classify(b []byte) datagram {
	d := datagram{raw: b}
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		d.err = fmt.Errorf("%w: empty datagram", charger.ErrBadReply)
	case bytes.HasPrefix(t, []byte("TCH-OK")):
		d.kind = kindAck
	case bytes.HasPrefix(t, []byte("TCH-ERR")):
		d.kind = kindNack
	case t[0] == '{':
		m, err := decodeObject(t)
		if err != nil {
			d.err = err
			return d
		}
		d.fields = m
		raw, ok := m["ID"]
		if !ok {
			d.kind = kindStatus
			return d
		}
		id, err := integer(raw, 1, 999)
		if err != nil {
			d.err = fmt.Errorf("%w: report ID: %v", charger.ErrBadReply, err)
			return d
		}
		d.kind, d.id = kindReport, int(id)
	default:
		d.err = fmt.Errorf("%w: not a KEBA reply: %s", charger.ErrBadReply, snippet(t))
	}
	return d
}

// decodeObject decodes one JSON object. It forgives a comma before the
// closing brace, which the P20 guide's own report example shows.
func decodeObject(t []byte) (map[string]json.RawMessage, error) {
	if end := bytes.LastIndexByte(t, '}'); end > 0 {
		head := bytes.TrimRight(t[:end], " \t\r\n")
		if len(head) > 1 && head[len(head)-1] == ',' && bytes.Equal(bytes.TrimSpace(t[end+1:]), nil) {
			t = append(append([]byte{}, head[:len(head)-1]...), '}')
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: bad JSON: %s", charger.ErrBadReply, snippet(t))
	}
	return m, nil
}

// report1 is the identity.
type report1 struct {
	product, serial, firmware string
}

// report2 is the charging state and the settings; currents in mA,
// timeouts in s.
type report2 struct {
	state, plug, err1, err2      int
	authReq                      int
	enableSys, enableUser        bool
	maxCurr, currHW, currUser    int
	currFS, tmoFS                int
	currTimer, tmoCT             int
	serial                       string
	hasFailsafe, hasTimer, hasHW bool
}

// report3 is the meter: V, mA, mW, 0.1 Wh. Nil where the station has no
// meter or leaves the key out.
type report3 struct {
	u, i         [3]*float64
	p            *float64
	ePres, eTotl *float64
}

// Bounds from the field types in the UDP Programmers Guide (report 2 and 3
// tables): wider than the documented ranges, so only nonsense is refused.
const (
	maxMilliAmps = 100_000      // I1..I3 are "int (5 digits)"
	maxCurrent   = 63_000       // Curr user, Curr FS, Curr timer
	maxVolts     = 1000         // U1..U3 are "int (3 digits)"
	maxMilliW    = 100_000_000  // P is "uint32 (8 digits)"
	maxTenthWh   = 1e12         // E pres, E total: uint32 and then some
	maxSeconds   = 10_000_000   // Tmo CT is up to 860400
	maxText      = 64           // Product and Firmware are 32 chars
	tenthWhToKWh = 1.0 / 10_000 // 0.1 Wh → kWh
)

func parseReport1(m map[string]json.RawMessage) (*report1, error) {
	var r report1
	var err error
	get := func(key string, dst *string) {
		if raw, ok := m[key]; ok && err == nil {
			if *dst, err = text(raw); err != nil {
				err = fmt.Errorf("%w: report 1 %q: %v", charger.ErrBadReply, key, err)
			}
		}
	}
	get("Product", &r.product)
	get("Serial", &r.serial)
	get("Firmware", &r.firmware)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func parseReport2(m map[string]json.RawMessage) (*report2, error) {
	var missing []string
	for _, k := range [...]string{"State", "Plug", "Enable sys", "Enable user", "Max curr", "Curr user"} {
		if _, ok := m[k]; !ok {
			missing = append(missing, strconv.Quote(k))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: report 2 lacks %s", charger.ErrBadReply, strings.Join(missing, ", "))
	}
	r := &report2{}
	var err error
	num := func(key string, dst *int, lo, hi int64) bool {
		raw, ok := m[key]
		if !ok || err != nil {
			return false
		}
		v, e := integer(raw, lo, hi)
		if e != nil {
			err = fmt.Errorf("%w: report 2 %q: %v", charger.ErrBadReply, key, e)
			return false
		}
		*dst = int(v)
		return true
	}
	var sys, user int
	num("State", &r.state, 0, 5)
	num("Plug", &r.plug, 0, 7)
	num("Error1", &r.err1, 0, math.MaxUint16)
	num("Error2", &r.err2, 0, math.MaxUint16)
	num("Authreq", &r.authReq, 0, 1)
	num("Enable sys", &sys, 0, 1)
	num("Enable user", &user, 0, 1)
	num("Max curr", &r.maxCurr, 0, maxCurrent)
	num("Curr user", &r.currUser, 0, maxCurrent)
	r.hasHW = num("Curr HW", &r.currHW, 0, maxCurrent)
	a := num("Curr FS", &r.currFS, 0, maxCurrent)
	b := num("Tmo FS", &r.tmoFS, 0, maxSeconds)
	r.hasFailsafe = a && b
	a = num("Curr timer", &r.currTimer, 0, maxCurrent)
	b = num("Tmo CT", &r.tmoCT, 0, maxSeconds)
	r.hasTimer = a && b
	if raw, ok := m["Serial"]; ok && err == nil {
		if r.serial, err = text(raw); err != nil {
			err = fmt.Errorf("%w: report 2 \"Serial\": %v", charger.ErrBadReply, err)
		}
	}
	if err != nil {
		return nil, err
	}
	r.enableSys, r.enableUser = sys == 1, user == 1
	return r, nil
}

func parseReport3(m map[string]json.RawMessage) (*report3, error) {
	r := &report3{}
	var err error
	opt := func(key string, lo, hi float64) *float64 {
		raw, ok := m[key]
		if !ok || err != nil || kindOf(raw) == 'n' {
			return nil
		}
		v, e := number(raw, lo, hi)
		if e != nil {
			err = fmt.Errorf("%w: report 3 %q: %v", charger.ErrBadReply, key, e)
			return nil
		}
		return &v
	}
	for n := range 3 {
		r.u[n] = opt(fmt.Sprintf("U%d", n+1), 0, maxVolts)
		r.i[n] = opt(fmt.Sprintf("I%d", n+1), 0, maxMilliAmps)
	}
	r.p = opt("P", 0, maxMilliW)
	r.ePres = opt("E pres", 0, maxTenthWh)
	r.eTotl = opt("E total", 0, maxTenthWh)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// applyStatus folds a pushed status message into the cached reports: the
// guide lists State, Plug, Input, Enable sys and Max curr (report 2) and
// E pres (report 3). Bad values are ignored; the next report corrects them.
func applyStatus(m map[string]json.RawMessage, r2 *report2, r3 *report3) {
	set := func(key string, dst *int, lo, hi int64) {
		if raw, ok := m[key]; ok && dst != nil {
			if v, err := integer(raw, lo, hi); err == nil {
				*dst = int(v)
			}
		}
	}
	if r2 != nil {
		set("State", &r2.state, 0, 5)
		set("Plug", &r2.plug, 0, 7)
		set("Max curr", &r2.maxCurr, 0, maxCurrent)
		var sys = -1
		set("Enable sys", &sys, 0, 1)
		if sys >= 0 {
			r2.enableSys = sys == 1
		}
	}
	if r3 != nil {
		if raw, ok := m["E pres"]; ok {
			if v, err := number(raw, 0, maxTenthWh); err == nil {
				r3.ePres = &v
			}
		}
	}
}

// kindOf is the first byte of a JSON value.
func kindOf(r json.RawMessage) byte {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return 0
	}
	return r[0]
}

// number reads a JSON number, or a number in a JSON string (the report ID
// is a string; firmware variants differ in what they quote).
func number(r json.RawMessage, lo, hi float64) (float64, error) {
	s := string(bytes.TrimSpace(r))
	if kindOf(r) == '"' {
		if err := json.Unmarshal(r, &s); err != nil {
			return 0, fmt.Errorf("bad string %s", snippet(r))
		}
		s = strings.TrimSpace(s)
	} else if k := kindOf(r); k != '-' && (k < '0' || k > '9') {
		return 0, fmt.Errorf("want a number, got %s", snippet(r))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bad number %s", snippet(r))
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%v outside %v..%v", v, lo, hi)
	}
	return v, nil
}

func integer(r json.RawMessage, lo, hi int64) (int64, error) {
	v, err := number(r, float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return int64(v), nil
}

// text reads a JSON string; the station pads some with spaces.
func text(r json.RawMessage) (string, error) {
	var s string
	if kindOf(r) != '"' || json.Unmarshal(r, &s) != nil {
		return "", fmt.Errorf("want a string, got %s", snippet(r))
	}
	s = strings.TrimSpace(s)
	if len(s) > maxText || !utf8.ValidString(s) || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "", fmt.Errorf("implausible string %s", snippet([]byte(s)))
	}
	return s, nil
}

// snippet quotes the start of a datagram for an error message.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty)"
	}
	s := string(b)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
