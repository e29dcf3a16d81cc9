package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// siteTuning is what users tune at runtime from Home Assistant or MQTT
// (`<base>/site/set`): the surplus thresholds and the battery rule. The
// main fuse stays in the config file on purpose: it is a safety limit.
type siteTuning struct {
	StartThreshold     *float64 `json:"start_threshold,omitempty"`
	StopThreshold      *float64 `json:"stop_threshold,omitempty"`
	ResidualPower      *float64 `json:"residual_power,omitempty"`
	BatteryPrioritySoC *float64 `json:"battery_priority_soc,omitempty"`
}

const stateTuning = "site_tuning"

// tuningRanges are the accepted values per field (W, or % for the SoC).
var tuningRanges = map[string][2]float64{
	"start_threshold":      {0, 10000},
	"stop_threshold":       {0, 10000},
	"residual_power":       {-5000, 5000},
	"battery_priority_soc": {0, 100},
}

func tuningFields() []string {
	out := make([]string, 0, len(tuningRanges))
	for k := range tuningRanges {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (t *siteTuning) field(name string) **float64 {
	switch name {
	case "start_threshold":
		return &t.StartThreshold
	case "stop_threshold":
		return &t.StopThreshold
	case "residual_power":
		return &t.ResidualPower
	case "battery_priority_soc":
		return &t.BatteryPrioritySoC
	}
	return nil
}

// set checks and sets one field.
func (t *siteTuning) set(name string, v float64) error {
	r, ok := tuningRanges[name]
	p := t.field(name)
	if !ok || p == nil {
		return fmt.Errorf("unknown field %q: settable fields are %s", truncate(name, 40), strings.Join(tuningFields(), ", "))
	}
	if v < r[0] || v > r[1] {
		return fmt.Errorf("%s: expected %v to %v, got %v", name, r[0], r[1], v)
	}
	*p = &v
	return nil
}

// parseTuning parses `<base>/site/set` (JSON object) or
// `<base>/site/set/<field>` (plain number).
func parseTuning(field string, payload []byte) (siteTuning, error) {
	var t siteTuning
	if len(payload) > maxCommandBytes {
		return t, fmt.Errorf("payload is %d bytes; at most %d", len(payload), maxCommandBytes)
	}
	if field != "" {
		v, err := parseNumber(strings.TrimSpace(string(payload)))
		if err != nil {
			return t, fmt.Errorf("%s: %w", truncate(field, 40), err)
		}
		return t, t.set(field, v)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return t, fmt.Errorf("expected a JSON object such as {\"start_threshold\":200}: %w", err)
	}
	if len(raw) == 0 {
		return t, errors.New("empty object")
	}
	var errs []error
	for _, k := range sortedKeys(raw) {
		v, err := parseNumber(strings.Trim(string(raw[k]), `" `))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", truncate(k, 40), err))
			continue
		}
		errs = append(errs, t.set(k, v))
	}
	return t, errors.Join(errs...)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// merge overlays newer fields.
func (t *siteTuning) merge(n siteTuning) {
	for _, f := range tuningFields() {
		if v := *n.field(f); v != nil {
			*t.field(f) = v
		}
	}
}

// onSiteSet handles `<base>/site/set[/<field>]`.
func (b *Bridge) onSiteSet(topic string, payload []byte) {
	field := ""
	if i := strings.Index(topic, "/site/set/"); i >= 0 {
		field = topic[i+len("/site/set/"):]
	}
	report := func(err error) {
		b.log.Warn("site setting refused", "topic", topic, "err", err)
		msg, _ := json.Marshal(map[string]string{"source": "site/set", "error": err.Error()})
		b.link.publish(b.base+"/site/error", 1, false, msg)
	}
	if b.site == nil {
		report(errors.New("the solar controller is off: set site.grid_meter in the config"))
		return
	}
	if b.isStopping() {
		report(ErrStopping)
		return
	}
	t, err := parseTuning(field, payload)
	if err != nil {
		report(err)
		return
	}
	b.site.mu.Lock()
	b.site.tuning.merge(t)
	b.site.mu.Unlock()
	b.log.Info("site settings changed", "payload", truncate(string(payload), 200))
	if b.store != nil {
		err := b.store.Update(stateTuning, func() any {
			b.site.mu.Lock()
			defer b.site.mu.Unlock()
			return b.site.tuning
		})
		if err != nil {
			b.log.Warn("site settings not saved", "err", err)
		}
	}
}
