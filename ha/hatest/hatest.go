// Package hatest checks Home Assistant MQTT discovery messages the way HA
// does (shared/notes/ha-conventions.md §2), independently of the package
// that builds them. Validate reproduces what makes HA ignore or reject a
// message, plus a few rules HA only warns about at runtime (state class
// fitting the device class, enum without options); Lint adds evbridge's own
// conventions; CheckSet checks ids across a set of messages.
//
// It knows the schemas of sensor, binary_sensor, number, select, switch,
// button, text and update in detail; other platforms get the common checks
// (topics, availability, entity options) only.
package hatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Rule names one check, so tests can tell why a payload failed.
type Rule string

// The rules. Each Error carries one.
const (
	RuleTopic           Rule = "topic"               // discovery topic format
	RuleComponent       Rule = "component"           // unsupported component / platform
	RuleJSON            Rule = "json"                // payload is not a JSON object
	RuleMigrate         Rule = "migrate-discovery"   // migrate_discovery not true
	RuleExtraKey        Rule = "extra-key"           // unknown key where HA's schema is strict
	RuleDevice          Rule = "device"              // device map
	RuleOrigin          Rule = "origin"              // origin map
	RuleComponents      Rule = "components"          // cmps map shape
	RulePlatform        Rule = "platform"            // cmps entry without a supported platform
	RuleUniqueID        Rule = "unique-id"           // missing unique_id
	RuleRequired        Rule = "required"            // a platform's required key is missing
	RuleType            Rule = "type"                // a value of the wrong type
	RulePublishTopic    Rule = "publish-topic"       // invalid command topic
	RuleSubscribeTopic  Rule = "subscribe-topic"     // invalid state/availability topic
	RuleQoS             Rule = "qos"                 // qos not 0, 1 or 2
	RuleDeviceClass     Rule = "device-class"        // device_class not in the platform's enum
	RuleUnit            Rule = "unit"                // unit not valid for the device class
	RuleStateClass      Rule = "state-class"         // state_class invalid or unfit for the device class
	RuleEnum            Rule = "enum"                // options / enum rules
	RuleLastReset       Rule = "last-reset"          // last_reset_value_template without state_class total
	RuleNumberRange     Rule = "number-range"        // number min/max
	RuleNumberStep      Rule = "number-step"         // number step < 0.001
	RuleMode            Rule = "mode"                // number/text mode
	RuleTextLength      Rule = "text-length"         // text min/max
	RuleEntityCategory  Rule = "entity-category"     // entity_category value or platform
	RuleIcon            Rule = "icon"                // icon not prefix:name
	RuleAvailability    Rule = "availability"        // availability forms and mode
	RuleTemplate        Rule = "template"            // a template that is not a string or is unbalanced
	RuleDefaultEntityID Rule = "default-entity-id"   // not <platform>.<object_id>
	RuleDuplicateID     Rule = "duplicate-unique-id" // CheckSet
	RuleDuplicateEntity Rule = "duplicate-default-entity-id"
	RuleUnknownKey      Rule = "unknown-key"   // Lint: key HA would silently drop
	RuleDeprecated      Rule = "deprecated"    // Lint: object_id
	RuleName            Rule = "name"          // Lint: entity name repeats the device name
	RuleComponentKey    Rule = "component-key" // Lint: cmps key outside [a-zA-Z0-9_-]
	RuleAssumedState    Rule = "assumed-state" // Lint: command entity without state_topic
)

// Error is one finding: which message, which component, which rule.
type Error struct {
	Topic     string
	Component string // cmps key, or "" for the message as a whole
	Rule      Rule
	Msg       string
}

// Error formats as "<topic> [<component>]: <rule>: <message>".
func (e *Error) Error() string {
	where := e.Topic
	if e.Component != "" {
		where += " [" + e.Component + "]"
	}
	return where + ": " + string(e.Rule) + ": " + e.Msg
}

// report collects errors for one topic.
type report struct {
	topic string
	errs  []error
}

func (r *report) add(cmp string, rule Rule, format string, args ...any) {
	r.errs = append(r.errs, &Error{Topic: r.topic, Component: cmp, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

// discovery is a parsed discovery message.
type discovery struct {
	prefix, component, nodeID, objectID string
	payload                             map[string]any // nil for a removal
}

var componentRE = regexp.MustCompile(`^\w+$`)

// Validate checks one discovery message as HA would, assuming the
// discovery prefix is the topic's first level (e.g. "homeassistant"); see
// ValidatePrefix for a longer prefix. An empty payload is a valid removal.
func Validate(topic string, payload []byte) []error {
	prefix, _, _ := strings.Cut(topic, "/")
	return ValidatePrefix(prefix, topic, payload)
}

// ValidatePrefix is Validate with an explicit discovery prefix. Lint and
// CheckSet, like Validate, take the first topic level as the prefix.
func ValidatePrefix(prefix, topic string, payload []byte) []error {
	r := &report{topic: topic}
	d, ok := parse(r, prefix, topic, payload)
	if ok && d.payload != nil {
		if d.component == "device" {
			validateDevice(r, d.payload)
		} else {
			validateSingle(r, d.component, d.payload)
		}
	}
	return r.errs
}

// parse checks the topic, the component and the JSON, handles
// migrate_discovery and expands abbreviations. ok is false when HA would
// stop there.
func parse(r *report, prefix, topic string, payload []byte) (d discovery, ok bool) {
	rest, found := strings.CutPrefix(topic, prefix+"/")
	if !found {
		r.add("", RuleTopic, "topic does not start with the discovery prefix %q", prefix)
		return d, false
	}
	levels := strings.Split(rest, "/")
	if (len(levels) != 3 && len(levels) != 4) || levels[len(levels)-1] != "config" {
		r.add("", RuleTopic, "topic must be <prefix>/<component>/[<node_id>/]<object_id>/config")
		return d, false
	}
	d.prefix, d.component, d.objectID = prefix, levels[0], levels[len(levels)-2]
	if len(levels) == 4 {
		d.nodeID = levels[1]
	}
	if !componentRE.MatchString(d.component) || !objectIDRE.MatchString(d.objectID) ||
		(d.nodeID != "" && !objectIDRE.MatchString(d.nodeID)) {
		r.add("", RuleTopic, "illegal discovery topic: node and object ids must match [a-zA-Z0-9_-]+")
		return d, false
	}
	if d.component != "device" && !supportedComponents[d.component] {
		r.add("", RuleComponent, "integration %q is not supported", d.component)
		return d, false
	}
	if len(payload) == 0 {
		return d, true
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		r.add("", RuleJSON, "unable to parse JSON")
		return d, false
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		r.add("", RuleJSON, "payload must be a JSON object, got %s", kind(v))
		return d, false
	}
	for _, k := range []string{"migr_discvry", "migrate_discovery"} {
		mv, has := obj[k]
		if !has {
			continue
		}
		if b, isBool := mv.(bool); isBool && b {
			return d, true // a migration request: HA unloads the entities, keeps their settings
		}
		r.add("", RuleMigrate, "migrate_discovery must be true, got %v", mv)
	}
	expandAll(obj, d.component == "device")
	d.payload = obj
	return d, true
}

// expandAll expands abbreviations where HA does: the root, origin, device,
// availability entries and (device discovery) every component.
func expandAll(m map[string]any, device bool) {
	expand(m, abbreviations)
	expandAvailability(m)
	if o, ok := m["origin"].(map[string]any); ok {
		expand(o, originAbbreviations)
	}
	if dv, ok := m["device"].(map[string]any); ok {
		expand(dv, deviceAbbreviations)
	}
	if !device {
		return
	}
	if cmps, ok := m["components"].(map[string]any); ok {
		for _, c := range cmps {
			if cm, ok := c.(map[string]any); ok {
				expand(cm, abbreviations)
				expandAvailability(cm)
			}
		}
	}
}

func expandAvailability(m map[string]any) {
	for _, a := range asList(m["availability"]) {
		if am, ok := a.(map[string]any); ok {
			expand(am, abbreviations)
		}
	}
}
