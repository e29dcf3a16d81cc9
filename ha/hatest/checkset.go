package hatest

import (
	"fmt"
	"strings"
)

// entity is one component of a message, with the device's shared options
// merged in.
type entity struct {
	key        string // cmps key; "" for a single-component message
	platform   string
	cfg        map[string]any
	deviceName string
}

// entities parses a message (prefix = first topic level) into its
// entities, leaving out removals and platform-only entries. Messages HA
// would not parse give none.
func entities(topic string, payload []byte) []entity {
	prefix, _, _ := strings.Cut(topic, "/")
	d, ok := parse(&report{topic: topic}, prefix, topic, payload)
	if !ok || d.payload == nil {
		return nil
	}
	p := d.payload
	devName := func(v any) string {
		dev, _ := v.(map[string]any)
		s, _ := asString(dev["name"])
		return s
	}
	if d.component != "device" {
		return []entity{{platform: d.component, cfg: p, deviceName: devName(p["device"])}}
	}
	cmps, _ := p["components"].(map[string]any)
	var out []entity
	for _, key := range sortedKeys(cmps) {
		c, ok := cmps[key].(map[string]any)
		platform, _ := c["platform"].(string)
		if !ok || len(c) < 2 || platform == "" {
			continue
		}
		merged := map[string]any{}
		for k, v := range c {
			if k != "platform" {
				merged[k] = v
			}
		}
		for _, k := range sharedOptions {
			if _, set := merged[k]; !set {
				if v, ok := p[k]; ok {
					merged[k] = v
				}
			}
		}
		out = append(out, entity{key: key, platform: platform, cfg: merged, deviceName: devName(p["device"])})
	}
	return out
}

// CheckSet checks ids across a set of discovery messages (topic →
// payload), e.g. everything one bridge publishes: unique_id must be unique
// per platform (HA ignores the second entity: "Platform mqtt does not
// generate unique IDs"), and default_entity_id must be unique. Errors come
// in topic order.
func CheckSet(msgs map[string][]byte) []error {
	type where struct{ topic, key string }
	uids := map[string]where{}
	eids := map[string]where{}
	var errs []error
	for _, topic := range sortedKeys(msgs) {
		for _, e := range entities(topic, msgs[topic]) {
			here := where{topic, e.key}
			if s, ok := asString(e.cfg["unique_id"]); ok {
				id := e.platform + " " + s
				if prev, dup := uids[id]; dup {
					errs = append(errs, &Error{Topic: topic, Component: e.key, Rule: RuleDuplicateID,
						Msg: fmt.Sprintf("%s unique_id %q already used by %s [%s]", e.platform, s, prev.topic, prev.key)})
				} else {
					uids[id] = here
				}
			}
			if s, ok := e.cfg["default_entity_id"].(string); ok {
				id := strings.ToLower(s)
				if prev, dup := eids[id]; dup {
					errs = append(errs, &Error{Topic: topic, Component: e.key, Rule: RuleDuplicateEntity,
						Msg: fmt.Sprintf("default_entity_id %q already used by %s [%s]", s, prev.topic, prev.key)})
				} else {
					eids[id] = here
				}
			}
		}
	}
	return errs
}

// commonKeys are the entity options every platform accepts
// (MQTT_ENTITY_COMMON_SCHEMA, availability, RO/RW bases).
var commonKeys = set("availability", "availability_mode", "availability_template", "availability_topic",
	"payload_available", "payload_not_available", "device", "origin", "entity_picture", "enabled_by_default",
	"entity_category", "icon", "json_attributes_topic", "json_attributes_template", "default_entity_id",
	"message_expiry_interval", "unique_id", "visible_by_default", "qos", "encoding", "name", "group",
	"state_topic", "command_topic", "value_template", "command_template", "retain", "optimistic", "~")

// platformKeys are the further keys of the platforms linted in detail.
var platformKeys = map[string]map[string]bool{
	"sensor": set("device_class", "state_class", "unit_of_measurement", "suggested_display_precision",
		"expire_after", "force_update", "last_reset_value_template", "options"),
	"binary_sensor": set("payload_on", "payload_off", "off_delay", "expire_after", "force_update", "device_class"),
	"number":        set("min", "max", "step", "mode", "payload_reset", "unit_of_measurement", "device_class"),
	"select":        set("options"),
	"switch":        set("payload_on", "payload_off", "state_on", "state_off", "device_class"),
	"button":        set("payload_press", "device_class"),
	"text":          set("min", "max", "mode", "pattern"),
	"update": set("latest_version_topic", "latest_version_template", "payload_install", "release_summary",
		"release_url", "title", "display_precision", "device_class"),
}

// commandPlatforms take a command and show a state; without state_topic
// HA runs them optimistically (assumed state).
var commandPlatforms = set("number", "select", "switch", "text")

// Lint is Validate plus evbridge's conventions, which HA itself only
// warns about or silently tolerates: keys HA would drop as unknown
// (typos, invented abbreviations), the deprecated object_id, entity names
// that repeat the device name, component keys outside [a-zA-Z0-9_-], and
// command entities without a state topic.
func Lint(topic string, payload []byte) []error {
	errs := Validate(topic, payload)
	r := &report{topic: topic}
	for _, e := range entities(topic, payload) {
		if e.key != "" && !objectIDRE.MatchString(e.key) {
			r.add(e.key, RuleComponentKey, "component key must match [a-zA-Z0-9_-]+")
		}
		if keys, known := platformKeys[e.platform]; known {
			for _, k := range sortedKeys(e.cfg) {
				if k == "object_id" {
					r.add(e.key, RuleDeprecated, "object_id is deprecated since HA 2025.10; use default_entity_id")
				} else if !commonKeys[k] && !keys[k] {
					r.add(e.key, RuleUnknownKey, "HA ignores the unknown %s key %q", e.platform, k)
				}
			}
		}
		if name, ok := e.cfg["name"].(string); ok && e.deviceName != "" && repeatsName(name, e.deviceName) {
			r.add(e.key, RuleName, "entity name %q repeats the device name %q", name, e.deviceName)
		}
		if _, has := e.cfg["state_topic"]; commandPlatforms[e.platform] && !has {
			r.add(e.key, RuleAssumedState, "%s without state_topic runs with an assumed state", e.platform)
		}
	}
	return append(errs, r.errs...)
}

// repeatsName reports whether an entity name starts with the device name
// as a whole word (HA strips such a prefix with a warning).
func repeatsName(name, device string) bool {
	n, d := strings.ToLower(name), strings.ToLower(device)
	return n == d || strings.HasPrefix(n, d+" ")
}
