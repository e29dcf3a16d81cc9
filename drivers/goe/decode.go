package goe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

// status is one decoded /api/status reply. Pointers are nil where the key
// is absent or null.
type status struct {
	car      *int // carState: 0 unknown/error, 1 idle, 2 charging, 3 wait car, 4 complete, 5 error
	alw      bool
	frc      int // forceState: 0 neutral, 1 off, 2 on
	amp      int // A
	ama      *int
	nrg      []float64 // U L1..N (V), I L1..L3 (A), P L1..N, total (W), pf L1..N (%)
	wh       float64
	eto      float64
	err      *int
	psm, pnp *int
	fwv, sse string
	typ      string
	variant  *int
	rssi     *int // dBm
	tma      []float64
}

// Plausibility bounds: anything outside is a broken reply, not a reading.
const (
	maxVolts   = 1000.0
	maxAmps    = 200.0
	maxWatts   = 250000.0
	maxWh      = 1e12 // eto: a billion kWh
	maxTemp    = 200.0
	maxTextLen = 128
)

// parseStatus decodes and validates a status reply. It never panics.
func parseStatus(body []byte) (*status, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty reply", charger.ErrBadReply)
	}
	if looksHTML(body) {
		return nil, fmt.Errorf("%w: got HTML, not JSON", charger.ErrBadReply)
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object: %s", charger.ErrBadReply, snippet(body))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: bad JSON: %v", charger.ErrBadReply, err)
	}
	var missing []string
	for _, k := range [...]string{"car", "alw", "frc", "amp", "nrg", "wh", "eto"} {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing keys %s", charger.ErrBadReply, strings.Join(missing, ","))
	}

	s := &status{}
	var err error
	dec := func(key string, f func(json.RawMessage) error) {
		raw, ok := m[key]
		if !ok || err != nil {
			return
		}
		if e := f(raw); e != nil {
			err = fmt.Errorf("%w: key %q: %v", charger.ErrBadReply, key, e)
		}
	}
	dec("car", func(r json.RawMessage) (e error) { s.car, e = optInt(r, 0, 5); return })
	dec("alw", func(r json.RawMessage) (e error) { s.alw, e = boolean(r); return })
	dec("frc", func(r json.RawMessage) (e error) { s.frc, e = integer(r, 0, 2); return })
	dec("amp", func(r json.RawMessage) (e error) { s.amp, e = integer(r, 0, 80); return })
	dec("ama", func(r json.RawMessage) (e error) { s.ama, e = optInt(r, 0, 80); return })
	dec("nrg", func(r json.RawMessage) (e error) { s.nrg, e = parseNrg(r); return })
	dec("wh", func(r json.RawMessage) (e error) { s.wh, e = number(r, 0, maxWh); return })
	dec("eto", func(r json.RawMessage) (e error) { s.eto, e = number(r, 0, maxWh); return })
	dec("err", func(r json.RawMessage) (e error) { s.err, e = optInt(r, 0, 255); return })
	dec("psm", func(r json.RawMessage) (e error) { s.psm, e = optInt(r, 0, 2); return })
	dec("pnp", func(r json.RawMessage) (e error) { s.pnp, e = optInt(r, 0, 3); return })
	dec("fwv", func(r json.RawMessage) (e error) { s.fwv, e = text(r); return })
	dec("sse", func(r json.RawMessage) (e error) { s.sse, e = text(r); return })
	dec("typ", func(r json.RawMessage) (e error) { s.typ, e = text(r); return })
	dec("var", func(r json.RawMessage) (e error) { s.variant, e = optInt(r, 0, 255); return })
	dec("rssi", func(r json.RawMessage) (e error) { s.rssi, e = optInt(r, -128, 0); return })
	dec("tma", func(r json.RawMessage) (e error) { s.tma, e = numbers(r, -60, maxTemp, 0, 16); return })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// parseNrg checks the 16-value energy array: voltages and currents of the
// documented layout and the total power.
func parseNrg(r json.RawMessage) ([]float64, error) {
	v, err := numbers(r, -maxWatts, maxWatts, 16, 16)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 4; i++ {
		if v[i] < 0 || v[i] > maxVolts {
			return nil, fmt.Errorf("voltage [%d] = %v V is implausible", i, v[i])
		}
	}
	for i := 4; i < 7; i++ {
		if v[i] < -1 || v[i] > maxAmps {
			return nil, fmt.Errorf("current [%d] = %v A is implausible", i, v[i])
		}
	}
	return v, nil
}

// state maps a decoded reply onto the charger model.
func (s *status) state() charger.State {
	st := charger.State{
		Identity: charger.Identity{Brand: "go-e", Serial: s.sse, Firmware: s.fwv, Model: s.model()},
	}
	st.IEC, st.Status = iecStatus(s.car, s.alw, s.frc)
	if s.err != nil && *s.err != 0 {
		st.Status = charger.StatusError
		st.ErrorCode = strconv.Itoa(*s.err)
		st.ErrorText = errorText(*s.err)
	}
	// Enabled: forced on (frc=2) or off (frc=1) decides; in neutral (frc=0)
	// the box's own logic decides and alw is its verdict.
	switch s.frc {
	case 1:
		st.Enabled = charger.Ptr(false)
	case 2:
		st.Enabled = charger.Ptr(true)
	default:
		st.Enabled = charger.Ptr(s.alw)
	}
	st.CurrentLimit = charger.Ptr(float64(s.amp))
	st.Power = charger.Ptr(s.nrg[11])
	st.Currents = slices.Clone(s.nrg[4:7])
	st.Voltages = slices.Clone(s.nrg[0:3])
	st.SessionEnergy = charger.Ptr(s.wh / 1000)
	st.EnergyTotal = charger.Ptr(s.eto / 1000)
	// Phases: a forced mode (psm 1 or 2) is what the box switches in; in
	// auto mode (psm 0) or without psm, numberOfPhases (pnp) tells, when it
	// is 1 or 3.
	switch {
	case s.psm != nil && *s.psm == 1:
		st.Phases = charger.Ptr(1)
	case s.psm != nil && *s.psm == 2:
		st.Phases = charger.Ptr(3)
	case s.pnp != nil && (*s.pnp == 1 || *s.pnp == 3):
		st.Phases = charger.Ptr(*s.pnp)
	}
	if s.rssi != nil {
		st.RSSI = charger.Ptr(float64(*s.rssi))
	}
	if len(s.tma) > 0 {
		st.Temperature = charger.Ptr(slices.Max(s.tma))
	}
	return st
}

// iecStatus maps carState (protocols.md §1) to the pilot state and the
// user status. Paused: a car waits while charging is allowed (the car is
// not drawing) or forced off; connected: it waits on the box's own logic.
func iecStatus(car *int, alw bool, frc int) (charger.IECState, charger.Status) {
	if car == nil {
		return charger.IECUnknown, charger.StatusError
	}
	switch *car {
	case 1:
		return charger.IECA, charger.StatusNoVehicle
	case 2:
		return charger.IECC, charger.StatusCharging
	case 3:
		if alw || frc == 1 {
			return charger.IECB, charger.StatusPaused
		}
		return charger.IECB, charger.StatusConnected
	case 4:
		return charger.IECB, charger.StatusComplete
	case 5:
		return charger.IECF, charger.StatusError
	}
	return charger.IECUnknown, charger.StatusError
}

func (s *status) model() string {
	typ := s.typ
	if typ == "" {
		typ = "go-eCharger"
	}
	if s.variant != nil && *s.variant > 0 {
		return fmt.Sprintf("%s %d kW", typ, *s.variant)
	}
	return s.typ
}

// errorText names an err code (table in apikeys-en.md, protocols.md §1).
func errorText(code int) string {
	names := [...]string{"None", "FiAc", "FiDc", "Phase", "Overvolt", "Overamp", "Diode",
		"PpInvalid", "GndInvalid", "ContactorStuck", "ContactorMiss", "FiUnknown", "Unknown",
		"Overtemp", "NoComm", "StatusLockStuckOpen", "StatusLockStuckLocked"}
	hints := [...]string{"", "AC residual current", "DC residual current", "phase fault",
		"overvoltage", "overcurrent", "diode fault", "invalid proximity pilot (cable)",
		"invalid ground", "contactor stuck", "contactor missing", "unknown residual current fault",
		"unknown error", "overtemperature", "no communication", "lock stuck open", "lock stuck locked"}
	if code >= 0 && code < len(names) {
		return names[code] + ": " + hints[code]
	}
	return fmt.Sprintf("unknown error %d", code)
}

// parseSetReply checks the /api/set reply for key: true, or an error string.
func parseSetReply(body []byte, key string) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return fmt.Errorf("%w: empty reply", charger.ErrBadReply)
	}
	var m map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &m) != nil {
		return fmt.Errorf("%w: not a JSON object: %s", charger.ErrBadReply, snippet(body))
	}
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("%w: reply has no result for %q: %s", charger.ErrBadReply, key, snippet(body))
	}
	switch kind(raw) {
	case 't':
		if ok, _ := boolean(raw); ok {
			return nil
		}
	case 'f':
		return fmt.Errorf("%w: %s: false", charger.ErrRejected, key)
	case '"':
		msg, err := text(raw)
		if err == nil {
			return fmt.Errorf("%w: %s", charger.ErrRejected, msg)
		}
	}
	return fmt.Errorf("%w: unexpected result for %q: %s", charger.ErrBadReply, key, snippet(raw))
}

// kind is the first byte of a JSON value: n, t, f, ", [, { or a digit/minus.
func kind(r json.RawMessage) byte {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return 0
	}
	return r[0]
}

func typeName(r json.RawMessage) string {
	switch kind(r) {
	case 'n':
		return "null"
	case 't', 'f':
		return "bool"
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	return "number"
}

func number(r json.RawMessage, lo, hi float64) (float64, error) {
	if typeName(r) != "number" {
		return 0, fmt.Errorf("want a number, got %s", typeName(r))
	}
	var v float64
	if err := json.Unmarshal(r, &v); err != nil {
		return 0, fmt.Errorf("bad number %s", snippet(r))
	}
	if math.IsNaN(v) || v < lo || v > hi {
		return 0, fmt.Errorf("%v outside %v..%v", v, lo, hi)
	}
	return v, nil
}

func integer(r json.RawMessage, lo, hi int) (int, error) {
	v, err := number(r, float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return int(v), nil
}

func optInt(r json.RawMessage, lo, hi int) (*int, error) {
	if kind(r) == 'n' {
		return nil, nil
	}
	v, err := integer(r, lo, hi)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func boolean(r json.RawMessage) (bool, error) {
	var v bool
	if typeName(r) != "bool" || json.Unmarshal(r, &v) != nil {
		return false, fmt.Errorf("want a bool, got %s", typeName(r))
	}
	return v, nil
}

func text(r json.RawMessage) (string, error) {
	if kind(r) == 'n' {
		return "", nil
	}
	var v string
	if typeName(r) != "string" || json.Unmarshal(r, &v) != nil {
		return "", fmt.Errorf("want a string, got %s", typeName(r))
	}
	if !jsonfield.Plain(v, maxTextLen) {
		return "", fmt.Errorf("implausible string %q", truncate(v, 32))
	}
	return v, nil
}

func numbers(r json.RawMessage, lo, hi float64, minLen, maxLen int) ([]float64, error) {
	if typeName(r) != "array" {
		return nil, fmt.Errorf("want an array, got %s", typeName(r))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(r, &raw); err != nil {
		return nil, fmt.Errorf("bad array %s", snippet(r))
	}
	if len(raw) < minLen || len(raw) > maxLen {
		return nil, fmt.Errorf("array of %d values, want %d..%d", len(raw), minLen, maxLen)
	}
	out := make([]float64, len(raw))
	for i, e := range raw {
		v, err := number(e, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %v", i, err)
		}
		out[i] = v
	}
	return out, nil
}

func looksJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func looksHTML(b []byte) bool { return jsonfield.LooksHTML(b) }

// snippet quotes the start of a reply for an error message.
func snippet(b []byte) string { return jsonfield.Snippet(b) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
