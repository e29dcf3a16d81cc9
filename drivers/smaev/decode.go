package smaev

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

// Channels the driver reads (package doc).
const (
	chState        = "Measurement.Operation.EVeh.ChaStt"
	chPower        = "Measurement.Metering.GridMs.TotWIn"
	chEnergyTotal  = "Measurement.Metering.GridMs.TotWhIn"
	chEnergySess   = "Measurement.ChaSess.WhIn"
	chPhaseA       = "Measurement.GridMs.A.phsA"
	chPhaseB       = "Measurement.GridMs.A.phsB"
	chPhaseC       = "Measurement.GridMs.A.phsC"
	chSwitch       = "Measurement.Chrg.ModSw"
	chMode         = "Parameter.Chrg.ActChaMod"
	chCurrentLimit = "Parameter.Inverter.AcALim"
	chAppLock      = "Parameter.Chrg.ChrgLok"
	chModel        = "Parameter.Nameplate.ModelStr"
	chFirmware     = "Parameter.Nameplate.PkgRev"
	chSerial       = "Parameter.Nameplate.SerNum"
)

var (
	measChannels  = []string{chState, chPower, chEnergyTotal, chEnergySess, chPhaseA, chPhaseB, chPhaseC, chSwitch}
	paramChannels = []string{chMode, chCurrentLimit, chAppLock, chModel, chFirmware, chSerial}
)

// Plausibility bounds: anything outside is a broken reply.
const (
	maxWatts = 100000.0
	maxAmps  = 100.0
	maxWh    = 1e12
	maxCode  = 1e7
	maxToken = 4096
	maxText  = 128
)

// tokenReply is a decoded POST /api/v1/token.
type tokenReply struct {
	access, refresh string
	lifetime        time.Duration // 0: not told
}

func parseToken(body []byte) (tokenReply, error) {
	m, err := jsonfield.Object(body, nil)
	if err != nil {
		return tokenReply{}, fmt.Errorf("token: %w", err)
	}
	f := &fields{kind: "token key", m: m}
	t := tokenReply{access: f.token("access_token"), refresh: f.token("refresh_token")}
	typ := f.token("token_type")
	exp := f.num("expires_in", 0, 1e8)
	switch {
	case f.err != nil:
		return tokenReply{}, fmt.Errorf("token: %w", f.err)
	case t.access == "":
		return tokenReply{}, fmt.Errorf("token: %w: no access_token", charger.ErrBadReply)
	case typ != "" && !strings.EqualFold(typ, "bearer"):
		return tokenReply{}, fmt.Errorf("token: %w: token_type %q, want Bearer", charger.ErrBadReply, typ)
	}
	if exp != nil {
		t.lifetime = time.Duration(*exp * float64(time.Second))
	}
	return t, nil
}

// oauthError is the error (and description) of an OAuth error reply, or
// the reply quoted.
func oauthError(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" || !jsonfield.Plain(e.Error+e.Description, maxText) {
		return jsonfield.Snippet(body)
	}
	if e.Description != "" {
		return strconv.Quote(e.Error + ": " + e.Description)
	}
	return strconv.Quote(e.Error)
}

// entry is one element of a measurements reply, or one channel of a
// parameters reply: only the keys the driver looks at.
type entry struct {
	ChannelID   *string         `json:"channelId"`
	ComponentID *string         `json:"componentId"`
	Values      json.RawMessage `json:"values"`
	Value       json.RawMessage `json:"value"`
}

// array splits a reply that must be a JSON array into its elements.
func array(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, fmt.Errorf("%w: empty reply", charger.ErrBadReply)
	case jsonfield.LooksHTML(body):
		return nil, fmt.Errorf("%w: got HTML, not JSON", charger.ErrBadReply)
	case body[0] != '[':
		return nil, fmt.Errorf("%w: not a JSON array: %s", charger.ErrBadReply, jsonfield.Snippet(body))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%w: bad JSON: %v", charger.ErrBadReply, err)
	}
	return list, nil
}

// decodeEntry decodes element i of a list; where names the list.
func decodeEntry(raw json.RawMessage, where string, i int) (entry, error) {
	var e entry
	if r := bytes.TrimSpace(raw); len(r) == 0 || r[0] != '{' {
		return e, fmt.Errorf("%w: %s element %d is not an object: %s", charger.ErrBadReply, where, i, jsonfield.Snippet(raw))
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("%w: %s element %d: %v", charger.ErrBadReply, where, i, err)
	}
	if e.ChannelID == nil && where != "parameters" {
		return e, fmt.Errorf("%w: %s element %d has no channelId", charger.ErrBadReply, where, i)
	}
	return e, nil
}

func wanted(list []string, id string) bool {
	for _, w := range list {
		if w == id {
			return true
		}
	}
	return false
}

// parseMeasurements returns the first value of each channel the driver
// reads from a POST /api/v1/measurements/live reply. Other channels are
// skipped whatever their shape; a channel without values is absent.
func parseMeasurements(body []byte) (map[string]json.RawMessage, error) {
	list, err := array(body)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for i, raw := range list {
		e, err := decodeEntry(raw, "measurements", i)
		if err != nil {
			return nil, err
		}
		id := *e.ChannelID
		if !wanted(measChannels, id) || e.ComponentID != nil && *e.ComponentID != component {
			continue
		}
		if _, seen := out[id]; seen {
			continue
		}
		var values []struct {
			Value json.RawMessage `json:"value"`
		}
		if r := bytes.TrimSpace(e.Values); len(r) > 0 && string(r) != "null" {
			if err := json.Unmarshal(r, &values); err != nil {
				return nil, fmt.Errorf("%w: channel %q: values: %v", charger.ErrBadReply, id, err)
			}
		}
		if len(values) > 0 && len(values[0].Value) > 0 {
			out[id] = values[0].Value
		}
	}
	return out, nil
}

// parseParameters returns the value of each channel the driver reads from
// the charger's component in a POST /api/v1/parameters/search/ reply.
func parseParameters(body []byte) (map[string]json.RawMessage, error) {
	list, err := array(body)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for i, raw := range list {
		comp, err := decodeEntry(raw, "parameters", i)
		if err != nil {
			return nil, err
		}
		if comp.ComponentID != nil && *comp.ComponentID != component {
			continue
		}
		items, err := array(comp.Values)
		if err != nil {
			return nil, fmt.Errorf("parameters element %d: values: %w", i, err)
		}
		for j, raw := range items {
			e, err := decodeEntry(raw, "parameter values", j)
			if err != nil {
				return nil, err
			}
			if id := *e.ChannelID; wanted(paramChannels, id) && len(e.Value) > 0 {
				if _, seen := out[id]; !seen {
					out[id] = e.Value
				}
			}
		}
	}
	return out, nil
}

// fields reads typed values and keeps the first error, naming its key or
// channel. Absent or null values read as nil or "".
type fields struct {
	kind string // "channel", "token key"
	m    map[string]json.RawMessage
	err  error
}

func (f *fields) fail(key, format string, a ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: %s %q: %s", charger.ErrBadReply, f.kind, key, fmt.Sprintf(format, a...))
	}
}

func (f *fields) raw(key string) (json.RawMessage, bool) {
	r, ok := f.m[key]
	if !ok || f.err != nil {
		return nil, false
	}
	r = bytes.TrimSpace(r)
	return r, len(r) > 0 && string(r) != "null"
}

// num reads a JSON number within lo..hi.
func (f *fields) num(key string, lo, hi float64) *float64 {
	r, ok := f.raw(key)
	if !ok {
		return nil
	}
	var v float64
	if (r[0] != '-' && (r[0] < '0' || r[0] > '9')) || json.Unmarshal(r, &v) != nil {
		f.fail(key, "want a number, got %s", jsonfield.Snippet(r))
		return nil
	}
	return f.bounded(key, v, lo, hi)
}

func (f *fields) bounded(key string, v, lo, hi float64) *float64 {
	if math.IsNaN(v) || v < lo || v > hi {
		f.fail(key, "%v outside %v..%v", v, lo, hi)
		return nil
	}
	return &v
}

// code reads a whole JSON number (an enum value) within 0..maxCode.
func (f *fields) code(key string) *int {
	v := f.num(key, 0, maxCode)
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

// str reads a JSON string of at most maxLen plain characters.
func (f *fields) str(key string, maxLen int) string {
	r, ok := f.raw(key)
	if !ok {
		return ""
	}
	var v string
	if r[0] != '"' || json.Unmarshal(r, &v) != nil {
		f.fail(key, "want a string, got %s", jsonfield.Snippet(r))
		return ""
	}
	if !jsonfield.Plain(v, maxLen) {
		f.fail(key, "implausible string %s", jsonfield.Snippet([]byte(v)))
		return ""
	}
	return v
}

// token reads a string that goes into a header or a form: no spaces.
func (f *fields) token(key string) string {
	v := f.str(key, maxToken)
	if strings.ContainsAny(v, " \t") {
		f.fail(key, "contains white space")
		return ""
	}
	return v
}

// strNum reads a number the API sends as a string ("16.00").
func (f *fields) strNum(key string, lo, hi float64) *float64 {
	s := f.str(key, 32)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) {
		f.fail(key, "want a number in a string, got %q", s)
		return nil
	}
	return f.bounded(key, v, lo, hi)
}

// reading is one poll: the measurements and parameters the driver uses.
type reading struct {
	state, swtch     *int     // ChaStt, ModSw
	power            *float64 // W
	totalWh, sessWh  *float64
	phase            [3]*float64 // A, as sent (negative while charging)
	mode             string      // ActChaMod
	limit            *float64    // AcALim, A
	appLock          string      // ChrgLok
	model, fw, serNo string
}

// decodeMeasurements reads the channels of a measurements reply.
func decodeMeasurements(body []byte) (*reading, error) {
	m, err := parseMeasurements(body)
	if err != nil {
		return nil, fmt.Errorf("measurements: %w", err)
	}
	f := &fields{kind: "channel", m: m}
	r := &reading{
		state: f.code(chState), swtch: f.code(chSwitch),
		power:   f.num(chPower, -maxWatts, maxWatts),
		totalWh: f.num(chEnergyTotal, 0, maxWh), sessWh: f.num(chEnergySess, 0, maxWh),
	}
	for i, ch := range [...]string{chPhaseA, chPhaseB, chPhaseC} {
		r.phase[i] = f.num(ch, -maxAmps, maxAmps)
	}
	if f.err == nil && r.state == nil {
		f.err = fmt.Errorf("%w: no channel %q", charger.ErrBadReply, chState)
	}
	if f.err != nil {
		return nil, fmt.Errorf("measurements: %w", f.err)
	}
	return r, nil
}

// decodeReading reads a poll's two replies.
func decodeReading(meas, params []byte) (*reading, error) {
	r, err := decodeMeasurements(meas)
	if err != nil {
		return nil, err
	}
	m, err := parseParameters(params)
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	f := &fields{kind: "channel", m: m}
	r.mode, r.appLock = f.str(chMode, 16), f.str(chAppLock, 16)
	r.limit = f.strNum(chCurrentLimit, 0, maxAmps)
	r.model, r.fw, r.serNo = f.str(chModel, maxText), f.str(chFirmware, maxText), f.str(chSerial, maxText)
	if f.err != nil {
		return nil, fmt.Errorf("parameters: %w", f.err)
	}
	return r, nil
}
