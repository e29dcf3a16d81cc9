package hatest

// Root keys DEVICE_DISCOVERY_SCHEMA allows; the schema is strict, so any
// other key (after expansion) makes HA drop the whole device.
var deviceRootKeys = set("availability", "availability_mode", "availability_template", "availability_topic",
	"payload_available", "payload_not_available", "device", "components", "origin", "state_topic",
	"command_topic", "qos", "encoding", "message_expiry_interval")

// sharedOptions are copied from the device root into every component that
// does not set them (SHARED_OPTIONS, 2026 dev).
var sharedOptions = []string{"availability", "availability_mode", "availability_template", "availability_topic",
	"command_topic", "encoding", "message_expiry_interval", "payload_available", "payload_not_available",
	"state_topic", "qos"}

// deviceKeys are the keys of the strict device map.
var deviceKeys = set("identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version",
	"serial_number", "sw_version", "via_device", "via_hub", "suggested_area", "configuration_url")

// validateDevice applies DEVICE_DISCOVERY_SCHEMA, then checks each
// component as HA does once it has merged the shared options into it.
func validateDevice(r *report, p map[string]any) {
	for _, k := range sortedKeys(p) {
		if !deviceRootKeys[k] {
			r.add("", RuleExtraKey, "extra key %q not allowed at the root of a device discovery payload", k)
		}
	}
	dev, hasDev := p["device"]
	if !hasDev {
		r.add("", RuleDevice, "required key device (dev) is missing")
	} else {
		checkDeviceInfo(r, "", dev)
	}
	org, hasOrigin := p["origin"]
	if !hasOrigin {
		r.add("", RuleOrigin, "required key origin (o) is missing")
	} else {
		checkOrigin(r, "", org)
	}
	checkAvailability(r, "", p)
	if v, ok := p["state_topic"]; ok {
		if err := checkSubscribeTopic(v); err != nil {
			r.add("", RuleSubscribeTopic, "state_topic: %v", err)
		}
	}
	if v, ok := p["command_topic"]; ok {
		if err := checkPublishTopic(v); err != nil {
			r.add("", RulePublishTopic, "command_topic: %v", err)
		}
	}
	checkQoS(r, "", p)

	raw, hasCmps := p["components"]
	if !hasCmps {
		r.add("", RuleComponents, "required key components (cmps) is missing")
		return
	}
	cmps, ok := raw.(map[string]any)
	if !ok {
		r.add("", RuleComponents, "components must be an object, got %s", kind(raw))
		return
	}
	for _, key := range sortedKeys(cmps) {
		c, ok := cmps[key].(map[string]any)
		if !ok {
			r.add(key, RuleComponents, "component must be an object, got %s", kind(cmps[key]))
			continue
		}
		platform, _ := c["platform"].(string)
		if !supportedComponents[platform] {
			r.add(key, RulePlatform, "platform (p) must be a supported component, got %v", c["platform"])
			continue
		}
		if len(c) == 1 {
			continue // platform only: removes this component
		}
		if _, has := c["unique_id"]; !has && !nonEntityComponents[platform] {
			r.add(key, RuleUniqueID, "unique_id (uniq_id) is required for every entity in device discovery")
		}
		merged := make(map[string]any, len(c)+len(sharedOptions))
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
		validateComponent(r, key, platform, merged, true)
	}
}

// validateSingle checks a single-component payload: origin, if given, must
// be valid or HA drops the message; the platform comes from the topic.
func validateSingle(r *report, platform string, p map[string]any) {
	if org, ok := p["origin"]; ok {
		checkOrigin(r, "", org)
	}
	if dev, ok := p["device"]; ok {
		checkDeviceInfo(r, "", dev)
	}
	validateComponent(r, "", platform, p, false)
}

// checkDeviceInfo is MQTT_ENTITY_DEVICE_INFO_SCHEMA.
func checkDeviceInfo(r *report, cmp string, v any) {
	dev, ok := v.(map[string]any)
	if !ok {
		r.add(cmp, RuleDevice, "device must be an object, got %s", kind(v))
		return
	}
	for _, k := range sortedKeys(dev) {
		if !deviceKeys[k] {
			r.add(cmp, RuleExtraKey, "extra key %q not allowed in device", k)
		}
	}
	identified := false
	if ids, has := dev["identifiers"]; has {
		list := asList(ids)
		for _, id := range list {
			if _, ok := asString(id); !ok {
				r.add(cmp, RuleDevice, "identifiers must be strings, got %s", kind(id))
			}
		}
		identified = len(list) > 0
		if s, isStr := ids.(string); isStr && s == "" {
			identified = false
		}
	}
	if cns, has := dev["connections"]; has {
		list := asList(cns)
		for _, c := range list {
			pair, ok := c.([]any)
			if !ok || len(pair) != 2 {
				r.add(cmp, RuleDevice, "each connection must be a [type, id] pair")
				continue
			}
			for _, s := range pair {
				if _, ok := asString(s); !ok {
					r.add(cmp, RuleDevice, "connection values must be strings")
				}
			}
		}
		identified = identified || len(list) > 0
	}
	if !identified {
		r.add(cmp, RuleDevice, "device must have at least one identifying value in identifiers and/or connections")
	}
	for _, k := range []string{"manufacturer", "model", "model_id", "name", "hw_version", "serial_number",
		"sw_version", "via_device", "via_hub", "suggested_area"} {
		if x, has := dev[k]; has {
			if _, ok := asString(x); !ok {
				r.add(cmp, RuleDevice, "device %s must be a string, got %s", k, kind(x))
			}
		}
	}
	if u, has := dev["configuration_url"]; has {
		if err := checkConfigurationURL(u); err != nil {
			r.add(cmp, RuleDevice, "configuration_url: %v", err)
		}
	}
}

// checkOrigin is MQTT_ORIGIN_INFO_SCHEMA (strict, name required).
func checkOrigin(r *report, cmp string, v any) {
	org, ok := v.(map[string]any)
	if !ok {
		r.add(cmp, RuleOrigin, "origin must be an object, got %s", kind(v))
		return
	}
	for _, k := range sortedKeys(org) {
		switch k {
		case "name", "sw_version":
			if _, ok := asString(org[k]); !ok {
				r.add(cmp, RuleOrigin, "origin %s must be a string, got %s", k, kind(org[k]))
			}
		case "support_url":
			if err := checkConfigurationURL(org[k]); err != nil {
				r.add(cmp, RuleOrigin, "support_url: %v", err)
			}
		default:
			r.add(cmp, RuleExtraKey, "extra key %q not allowed in origin", k)
		}
	}
	if _, has := org["name"]; !has {
		r.add(cmp, RuleOrigin, "origin name is required")
	}
}
