package hatest

import (
	"strings"
)

// requiredKeys are each platform's required keys [p:*].
var requiredKeys = map[string][]string{
	"sensor":        {"state_topic"},
	"binary_sensor": {"state_topic"},
	"update":        {"state_topic"},
	"number":        {"command_topic"},
	"select":        {"command_topic", "options"},
	"switch":        {"command_topic"},
	"button":        {"command_topic"},
	"text":          {"command_topic"},
}

// validateComponent checks one entity config (after HA merged in the
// device's shared options). inDevice: device and origin were checked at
// the device root.
func validateComponent(r *report, key, platform string, c map[string]any, inDevice bool) {
	replaceTopicBase(c)
	for _, k := range requiredKeys[platform] {
		if _, ok := c[k]; !ok {
			r.add(key, RuleRequired, "%s requires %s", platform, k)
		}
	}
	checkAvailability(r, key, c)
	checkQoS(r, key, c)
	checkCommon(r, key, platform, c)
	if dcs, ok := deviceClasses[platform]; ok {
		if v, has := c["device_class"]; has && v != nil {
			s, isStr := v.(string)
			if !isStr || !dcs[strings.ToLower(s)] {
				r.add(key, RuleDeviceClass, "device_class %v is not a %s device class", v, platform)
			}
		}
	}
	switch platform {
	case "sensor":
		checkSensor(r, key, c)
	case "binary_sensor":
		checkPositiveInts(r, key, c, "off_delay", "expire_after")
	case "number":
		checkNumber(r, key, c)
	case "select":
		if v, has := c["options"]; has {
			checkOptions(r, key, v, RuleType)
		}
	case "text":
		checkText(r, key, c)
	case "update":
		checkPositiveInts(r, key, c, "display_precision")
	}
}

// replaceTopicBase is HA's `~` substitution in keys ending in "topic" and
// in availability topics.
func replaceTopicBase(c map[string]any) {
	base, ok := c["~"].(string)
	if !ok {
		return
	}
	delete(c, "~")
	sub := func(s string) string {
		if strings.HasPrefix(s, "~") {
			s = base + s[1:]
		}
		if strings.HasSuffix(s, "~") {
			s = s[:len(s)-1] + base
		}
		return s
	}
	for k, v := range c {
		if s, ok := v.(string); ok && s != "" && strings.HasSuffix(k, "topic") {
			c[k] = sub(s)
		}
	}
	for _, a := range asList(c["availability"]) {
		if am, ok := a.(map[string]any); ok {
			if s, ok := am["topic"].(string); ok && s != "" {
				am["topic"] = sub(s)
			}
		}
	}
}

// checkCommon covers MQTT_ENTITY_COMMON_SCHEMA and the RO/RW bases.
func checkCommon(r *report, key, platform string, c map[string]any) {
	for _, k := range sortedKeys(c) {
		v := c[k]
		switch {
		case k == "availability_topic":
			// checkAvailability
		case strings.HasSuffix(k, "topic") && isPublishTopicKey(k):
			if err := checkPublishTopic(v); err != nil {
				r.add(key, RulePublishTopic, "%s: %v", k, err)
			}
		case strings.HasSuffix(k, "topic"):
			if err := checkSubscribeTopic(v); err != nil {
				r.add(key, RuleSubscribeTopic, "%s: %v", k, err)
			}
		case strings.HasSuffix(k, "template"):
			checkTemplate(r, key, k, v)
		}
	}
	if v, has := c["name"]; has && v != nil {
		if _, ok := asString(v); !ok {
			r.add(key, RuleType, "name must be a string or null, got %s", kind(v))
		}
	}
	for _, k := range []string{"unique_id", "encoding", "payload_on", "payload_off", "state_on", "state_off",
		"payload_press", "payload_reset", "payload_install"} {
		if v, has := c[k]; has {
			if _, ok := asString(v); !ok {
				r.add(key, RuleType, "%s must be a string, got %s", k, kind(v))
			}
		}
	}
	for _, k := range []string{"enabled_by_default", "visible_by_default", "retain", "optimistic", "force_update"} {
		if v, has := c[k]; has {
			if _, ok := asBool(v); !ok {
				r.add(key, RuleType, "%s must be a boolean, got %v", k, v)
			}
		}
	}
	if v, has := c["default_entity_id"]; has {
		s, ok := v.(string)
		switch {
		case !ok:
			r.add(key, RuleDefaultEntityID, "default_entity_id must be a string, got %s", kind(v))
		case checkEntityID(s) != nil:
			r.add(key, RuleDefaultEntityID, "%v", checkEntityID(s))
		case !strings.HasPrefix(strings.ToLower(s), platform+"."):
			r.add(key, RuleDefaultEntityID, "default_entity_id %q must start with the platform %q", s, platform+".")
		}
	}
	if v, has := c["entity_category"]; has {
		switch v {
		case "diagnostic":
		case "config":
			if platform == "sensor" || platform == "binary_sensor" {
				r.add(key, RuleEntityCategory, "a %s cannot have entity_category config (HA refuses to add it); use diagnostic", platform)
			}
		default:
			r.add(key, RuleEntityCategory, "entity_category must be config or diagnostic, got %v", v)
		}
	}
	if v, has := c["icon"]; has {
		if s, ok := asString(v); !ok || !strings.Contains(s, ":") {
			r.add(key, RuleIcon, "icons should be specified in the form \"prefix:name\", got %v", v)
		}
	}
	if v, has := c["entity_picture"]; has {
		if err := checkURL(v); err != nil {
			r.add(key, RuleType, "entity_picture: %v", err)
		}
	}
	checkPositiveInts(r, key, c, "message_expiry_interval")
}

// checkTemplate is cv.template: a string that compiles. Only the
// delimiters are checked here, not the Jinja grammar.
func checkTemplate(r *report, key, k string, v any) {
	s, ok := asString(v)
	if !ok {
		r.add(key, RuleTemplate, "%s must be a string, got %s", k, kind(v))
		return
	}
	if strings.Count(s, "{{") != strings.Count(s, "}}") || strings.Count(s, "{%") != strings.Count(s, "%}") {
		r.add(key, RuleTemplate, "%s has unbalanced {{ }} or {%% %%} delimiters", k)
	}
}

// checkAvailability is MQTT_AVAILABILITY_SCHEMA.
func checkAvailability(r *report, key string, c map[string]any) {
	_, single := c["availability_topic"]
	list, hasList := c["availability"]
	if single && hasList {
		r.add(key, RuleAvailability, "availability_topic and availability are exclusive")
	}
	if single {
		if err := checkSubscribeTopic(c["availability_topic"]); err != nil {
			r.add(key, RuleSubscribeTopic, "availability_topic: %v", err)
		}
	}
	if v, has := c["availability_mode"]; has {
		if s, _ := asString(v); s != "all" && s != "any" && s != "latest" {
			r.add(key, RuleAvailability, "availability_mode must be all, any or latest, got %v", v)
		}
	}
	for _, k := range []string{"payload_available", "payload_not_available"} {
		if v, has := c[k]; has {
			if _, ok := asString(v); !ok {
				r.add(key, RuleType, "%s must be a string, got %s", k, kind(v))
			}
		}
	}
	if !hasList {
		return
	}
	for i, a := range asList(list) {
		am, ok := a.(map[string]any)
		if !ok {
			r.add(key, RuleAvailability, "availability[%d] must be an object, got %s", i, kind(a))
			continue
		}
		for _, k := range sortedKeys(am) {
			switch k {
			case "topic":
				if err := checkSubscribeTopic(am[k]); err != nil {
					r.add(key, RuleSubscribeTopic, "availability[%d].topic: %v", i, err)
				}
			case "payload_available", "payload_not_available":
				if _, ok := asString(am[k]); !ok {
					r.add(key, RuleType, "availability[%d].%s must be a string", i, k)
				}
			case "value_template":
				checkTemplate(r, key, k, am[k])
			default:
				r.add(key, RuleExtraKey, "extra key %q not allowed in availability[%d]", k, i)
			}
		}
		if _, ok := am["topic"]; !ok {
			r.add(key, RuleAvailability, "availability[%d] requires topic", i)
		}
	}
}

// checkQoS is valid_qos_schema: coerced to int, one of 0, 1, 2.
func checkQoS(r *report, key string, c map[string]any) {
	v, has := c["qos"]
	if !has {
		return
	}
	if q, ok := asInt(v); !ok || q < 0 || q > 2 {
		r.add(key, RuleQoS, "qos must be 0, 1 or 2, got %v", v)
	}
}

// checkPositiveInts is cv.positive_int for each key present.
func checkPositiveInts(r *report, key string, c map[string]any, keys ...string) {
	for _, k := range keys {
		if v, has := c[k]; has {
			if i, ok := asInt(v); !ok || i < 0 {
				r.add(key, RuleType, "%s must be a non-negative integer, got %v", k, v)
			}
		}
	}
}

// checkOptions checks a select's or an enum sensor's options: a non-empty
// list of strings.
func checkOptions(r *report, key string, v any, rule Rule) {
	list := asList(v)
	if len(list) == 0 {
		r.add(key, rule, "options must be a non-empty list")
	}
	for _, o := range list {
		if _, ok := asString(o); !ok {
			r.add(key, rule, "options must be strings, got %s", kind(o))
		}
	}
}
