package generichttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

// state maps the decoded replies onto the charger model; devMax is the
// max_current read, 0 when unknown.
func (p *program) state(docs []any) (st charger.State, devMax float64, err error) {
	f := &p.fields
	var errs []error
	get := func(x *field) *value {
		if x == nil {
			return nil
		}
		v, err := x.read(docs)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	num := func(x *field) *float64 {
		if v := get(x); v != nil {
			return charger.Ptr(v.num)
		}
		return nil
	}
	text := func(x *field) string {
		if v := get(x); v != nil {
			return v.text
		}
		return ""
	}
	if v := get(f.status); v != nil {
		st.IEC, st.Status = v.iec, v.status
		if st.Status == "" {
			st.Status = charger.StatusFromIEC(v.iec)
		}
	}
	if v := get(f.enabled); v != nil {
		st.Enabled = charger.Ptr(v.on)
	}
	st.CurrentLimit = num(f.currentLimit)
	if m := num(f.maxCurrent); m != nil {
		devMax = *m
	}
	st.Power = num(f.power)
	st.Currents = phases(f.currents, num)
	st.Voltages = phases(f.voltages, num)
	if n := num(f.phases); n != nil && (*n == 1 || *n == 3) {
		st.Phases = charger.Ptr(int(*n))
	}
	st.SessionEnergy = num(f.sessionEnergy)
	st.EnergyTotal = num(f.energyTotal)
	st.ErrorCode, st.ErrorText = text(f.errorCode), text(f.errorText)
	if st.ErrorCode != "" {
		st.Status = charger.StatusError
	}
	st.RSSI = num(f.rssi)
	st.Temperature = num(f.temperature)
	st.Identity = charger.Identity{Brand: p.brand, Model: text(f.model), Serial: text(f.serial), Firmware: text(f.firmware)}
	if st.Model == "" {
		st.Model = p.model
	}
	if err := errors.Join(errs...); err != nil {
		return charger.State{}, 0, err
	}
	return st, devMax, nil
}

// phases reads one value per phase; unless all are known, none is shown.
func phases(list []*field, num func(*field) *float64) []float64 {
	if len(list) == 0 {
		return nil
	}
	out := make([]float64, 0, len(list))
	for _, x := range list {
		v := num(x)
		if v == nil {
			return nil
		}
		out = append(out, *v)
	}
	return out
}

// decodeJSON decodes a whole reply, numbers kept as written.
func decodeJSON(body []byte) (any, error) {
	t := bytes.TrimSpace(body)
	switch {
	case len(t) == 0:
		return nil, fmt.Errorf("%w: empty reply", charger.ErrBadReply)
	case t[0] == '<':
		return nil, fmt.Errorf("%w: got HTML, not JSON", charger.ErrBadReply)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: bad JSON: %s", charger.ErrBadReply, snippet(t))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: bad JSON: more after the value: %s", charger.ErrBadReply, snippet(t))
	}
	return v, nil
}

// snippet quotes the start of a reply for an error message.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty)"
	}
	return strconv.Quote(truncate(string(b)))
}
