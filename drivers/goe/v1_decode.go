package goe

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

// statusV1 is one decoded API v1 /status reply, in the document's units.
// Pointers are nil where the key is absent.
type statusV1 struct {
	car      *int // 1 idle, 2 charging, 3 wait car, 4 complete (0 unknown)
	alw      bool
	amp      int  // A
	amx      *int // A, the volatile current, where the firmware shows it
	ama      *int // A
	err      int
	pha      *int      // phase flags: bits 0..2 after, 3..5 before the contactor
	tmp      *float64  // °C
	nrg      []float64 // V; 0.1 A; 0.1 kW per phase; total in 0.01 kW; %
	dws      float64   // session energy, deka-watt-seconds (10 Ws)
	eto      float64   // lifetime energy, 0.1 kWh
	fwv, sse string
}

// Plausibility bounds in v1 units.
const (
	maxDeciAmps = maxAmps * 10
	maxDws      = maxWh * 360 // deka-watt-seconds in maxWh
	maxEto      = maxWh / 100 // 0.1 kWh in maxWh
)

// parseStatusV1 decodes and validates a v1 status reply. Numbers come as
// strings ("16") per the document; plain JSON numbers (nrg is an array of
// numbers in the document's own example) are taken too. It never panics.
func parseStatusV1(body []byte) (*statusV1, error) {
	m, err := v1Object(body)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range [...]string{"car", "alw", "amp", "nrg", "dws", "eto"} {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing keys %s", charger.ErrBadReply, strings.Join(missing, ","))
	}
	s := &statusV1{}
	dec := func(key string, f func(json.RawMessage) error) {
		raw, ok := m[key]
		if !ok || err != nil {
			return
		}
		if e := f(raw); e != nil {
			err = fmt.Errorf("%w: key %q: %v", charger.ErrBadReply, key, e)
		}
	}
	optInt := func(dst **int, lo, hi int) func(json.RawMessage) error {
		return func(r json.RawMessage) error {
			v, e := v1Int(r, lo, hi)
			*dst = &v
			return e
		}
	}
	dec("car", optInt(&s.car, 0, 5))
	dec("alw", func(r json.RawMessage) error {
		v, e := v1Int(r, 0, 1)
		s.alw = v == 1
		return e
	})
	dec("amp", func(r json.RawMessage) (e error) { s.amp, e = v1Int(r, 0, 80); return })
	dec("amx", optInt(&s.amx, 0, 80))
	dec("ama", optInt(&s.ama, 0, 80))
	dec("err", func(r json.RawMessage) (e error) { s.err, e = v1Int(r, 0, 255); return })
	dec("pha", optInt(&s.pha, 0, 63))
	dec("tmp", func(r json.RawMessage) error {
		v, e := v1Number(r, -60, maxTemp)
		s.tmp = &v
		return e
	})
	dec("nrg", func(r json.RawMessage) (e error) { s.nrg, e = parseNrgV1(r); return })
	dec("dws", func(r json.RawMessage) (e error) { s.dws, e = v1Number(r, 0, maxDws); return })
	dec("eto", func(r json.RawMessage) (e error) { s.eto, e = v1Number(r, 0, maxEto); return })
	dec("fwv", func(r json.RawMessage) (e error) { s.fwv, e = text(r); return })
	dec("sse", func(r json.RawMessage) (e error) { s.sse, e = text(r); return })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// v1Object checks that body is one JSON object and splits it into keys.
func v1Object(body []byte) (map[string]json.RawMessage, error) { return jsonfield.Object(body, nil) }

// parseNrgV1 checks the 16 meter values (the document says array[15] but
// lists indexes 0..15): voltages in V, currents in 0.1 A.
func parseNrgV1(r json.RawMessage) ([]float64, error) {
	if typeName(r) != "array" {
		return nil, fmt.Errorf("want an array, got %s", typeName(r))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(r, &raw); err != nil || len(raw) != 16 {
		return nil, fmt.Errorf("want an array of 16 values, got %s", snippet(r))
	}
	v := make([]float64, 16)
	for i, e := range raw {
		lo, hi := -maxWatts/10, maxWatts/10 // powers in 0.1 or 0.01 kW
		switch {
		case i < 4:
			lo, hi = 0, maxVolts
		case i < 7:
			lo, hi = 0, maxDeciAmps
		}
		n, err := v1Number(e, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %v", i, err)
		}
		v[i] = n
	}
	return v, nil
}

// v1Number reads a JSON number or a string holding a plain decimal.
func v1Number(r json.RawMessage, lo, hi float64) (float64, error) {
	if typeName(r) == "number" {
		return number(r, lo, hi)
	}
	var s string
	if typeName(r) != "string" || json.Unmarshal(r, &s) != nil {
		return 0, fmt.Errorf("want a numeric string, got %s", typeName(r))
	}
	if !isDecimal(s) {
		return 0, fmt.Errorf("%q is not a number", truncate(s, 16))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q outside %v..%v", truncate(s, 16), lo, hi)
	}
	return v, nil
}

func v1Int(r json.RawMessage, lo, hi int) (int, error) {
	v, err := v1Number(r, float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return int(v), nil
}

// isDecimal accepts -?digits(.digits)? and nothing else: ParseFloat alone
// would also take "NaN", "Inf", hex floats and exponents.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	digits := func(p string) bool {
		return p != "" && len(p) <= 20 && strings.Trim(p, "0123456789") == ""
	}
	return digits(intPart) && (!hasDot || digits(frac))
}

// state maps a decoded v1 reply onto the charger model.
func (s *statusV1) state() charger.State {
	st := charger.State{
		Identity: charger.Identity{Brand: "go-e", Model: "go-eCharger (API v1)", Serial: s.sse, Firmware: s.fwv},
	}
	// v1 has no force state: alw=0 stops the box as frc=1 does in v2.
	frc := 0
	if !s.alw {
		frc = 1
	}
	st.IEC, st.Status = iecStatus(s.car, s.alw, frc)
	if s.err != 0 {
		st.Status = charger.StatusError
		st.ErrorCode = strconv.Itoa(s.err)
		st.ErrorText = errorTextV1(s.err)
	}
	st.Enabled = charger.Ptr(s.alw)
	st.CurrentLimit = charger.Ptr(float64(s.liveAmps()))
	nrg := slices.Clone(s.nrg)
	// The document's app logic: with only phase 1 before the contactor and
	// N reading higher than L1, the N channel carries L1.
	if s.pha != nil && *s.pha>>3 == 1 && nrg[3] > nrg[0] {
		nrg[0], nrg[7], nrg[12] = nrg[3], nrg[10], nrg[15]
	}
	st.Power = charger.Ptr(round2(nrg[11] * 10))
	st.Currents = []float64{round2(nrg[4] / 10), round2(nrg[5] / 10), round2(nrg[6] / 10)}
	st.Voltages = slices.Clone(nrg[0:3])
	st.SessionEnergy = charger.Ptr(s.dws / 360000)
	st.EnergyTotal = charger.Ptr(s.eto / 10)
	if n := s.phases(); n == 1 || n == 3 {
		st.Phases = charger.Ptr(n)
	}
	if s.tmp != nil {
		st.Temperature = charger.Ptr(*s.tmp)
	}
	return st
}

// liveAmps is the current in force: amx where the firmware shows one (it
// stands in for amp until the next reboot), else amp.
func (s *statusV1) liveAmps() int {
	if s.amx != nil && *s.amx >= minCurrent {
		return *s.amx
	}
	return s.amp
}

// phases counts the phases after the contactor, or before it when the
// contactor is open.
func (s *statusV1) phases() int {
	if s.pha == nil {
		return 0
	}
	after, before := *s.pha&7, (*s.pha>>3)&7
	if after == 0 {
		after = before
	}
	n := 0
	for ; after != 0; after &= after - 1 {
		n++
	}
	return n
}

// errorTextV1 names a v1 err code (API v1 document, "err").
func errorTextV1(code int) string {
	switch code {
	case 1:
		return "RCCB: residual current device tripped"
	case 3:
		return "PHASE: phase disturbance"
	case 8:
		return "NO_GROUND: earthing not detected"
	}
	return fmt.Sprintf("INTERNAL: internal error %d", code)
}

// checkSetV1 checks the reply to /mqtt?payload=key=want: the device
// answers with its whole status, and a refused command is one whose value
// did not change (API v1 document, "Return values"). For amx a firmware
// that does not list amx shows the new value in amp.
func checkSetV1(body []byte, key string, want int) error {
	m, err := v1Object(body)
	if err != nil {
		return err
	}
	raw, ok := m[key]
	if !ok && key == "amx" {
		raw, ok = m["amp"]
	}
	if !ok {
		return fmt.Errorf("%w: reply has no %q", charger.ErrBadReply, key)
	}
	got, err := v1Int(raw, math.MinInt32, math.MaxInt32)
	if err != nil {
		return fmt.Errorf("%w: key %q: %v", charger.ErrBadReply, key, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s is still %d after setting %d", charger.ErrRejected, key, got, want)
	}
	return nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
