package hatest

import "strings"

// unitOf returns the unit HA would use: null and "" mean none, the micro
// sign is normalised. ok is false for a non-string unit.
func unitOf(c map[string]any) (unit string, ok bool) {
	v, has := c["unit_of_measurement"]
	if !has || v == nil {
		return "", true
	}
	s, isStr := asString(v)
	if !isStr {
		return "", false
	}
	return normalizeUnit(strings.TrimSpace(s)), true
}

func deviceClassOf(c map[string]any) string {
	s, _ := c["device_class"].(string)
	return strings.ToLower(s)
}

// checkUnit rejects a unit the device class does not accept, as HA's
// sensor validator does ("The unit of measurement `X` is not valid
// together with device class `Y`").
func checkUnit(r *report, key, dc, unit string) {
	units, known := deviceClassUnits[dc]
	if !known || units[unit] {
		return
	}
	shown := unit
	if shown == "" {
		shown = "(none)"
	}
	r.add(key, RuleUnit, "the unit of measurement %q is not valid together with device class %q", shown, dc)
}

// checkSensor is validate_sensor_state_and_device_class_config plus the
// state-class table.
func checkSensor(r *report, key string, c map[string]any) {
	checkPositiveInts(r, key, c, "expire_after", "suggested_display_precision")
	dc := deviceClassOf(c)
	unit, ok := unitOf(c)
	if !ok {
		r.add(key, RuleType, "unit_of_measurement must be a string or null, got %s", kind(c["unit_of_measurement"]))
	}
	sc := ""
	if v, has := c["state_class"]; has && v != nil {
		s, isStr := v.(string)
		if !isStr || !stateClasses[s] {
			r.add(key, RuleStateClass, "state_class must be one of measurement, measurement_angle, total, total_increasing, got %v", v)
		} else {
			sc = s
		}
	}
	if _, has := c["last_reset_value_template"]; has && sc != "total" {
		r.add(key, RuleLastReset, "last_reset_value_template requires state_class total")
	}
	if sc == "measurement_angle" && unit != "°" {
		r.add(key, RuleStateClass, "state_class measurement_angle requires unit °")
	}

	opts, hasOptions := c["options"]
	if hasOptions {
		checkOptions(r, key, opts, RuleEnum)
		if dc != "enum" {
			r.add(key, RuleEnum, "options must be used together with device class enum")
		}
	}
	if dc == "enum" || hasOptions {
		if !hasOptions {
			r.add(key, RuleEnum, "device class enum requires options")
		}
		if sc != "" {
			r.add(key, RuleEnum, "an enum sensor (options) must not have a state_class, got %q", sc)
		}
		if unit != "" {
			r.add(key, RuleEnum, "an enum sensor (options) must not have a unit, got %q", unit)
		}
		return
	}
	if sensorNonNumeric[dc] {
		if sc != "" {
			r.add(key, RuleStateClass, "device class %s takes no state_class, got %q", dc, sc)
		}
		if unit != "" {
			r.add(key, RuleUnit, "device class %s takes no unit, got %q", dc, unit)
		}
		return
	}
	if dc != "" {
		checkUnit(r, key, dc, unit)
		if allowed, known := deviceClassStateClasses[dc]; known && !allowed[sc] {
			r.add(key, RuleStateClass, "state_class %q does not fit device class %q", sc, dc)
		}
	}
}

// checkNumber is the number schema and validate_config.
func checkNumber(r *report, key string, c map[string]any) {
	get := func(k string, def float64) float64 {
		v, has := c[k]
		if !has {
			return def
		}
		f, ok := asFloat(v)
		if !ok {
			r.add(key, RuleType, "expected float for %s, got %v", k, v)
			return def
		}
		return f
	}
	lo, hi, step := get("min", 0), get("max", 100), get("step", 1)
	if lo >= hi {
		r.add(key, RuleNumberRange, "'max' must be > 'min' (min %v, max %v)", lo, hi)
	}
	if step < 0.001 {
		r.add(key, RuleNumberStep, "step must be at least 0.001, got %v", step)
	}
	if v, has := c["mode"]; has {
		if s, _ := v.(string); s != "auto" && s != "box" && s != "slider" {
			r.add(key, RuleMode, "number mode must be auto, box or slider, got %v", v)
		}
	}
	unit, ok := unitOf(c)
	if !ok {
		r.add(key, RuleType, "unit_of_measurement must be a string or null")
	}
	if dc := deviceClassOf(c); dc != "" {
		checkUnit(r, key, dc, unit)
	}
}

// checkText is the text schema: 0 <= min <= max <= 255, mode text|password.
func checkText(r *report, key string, c map[string]any) {
	get := func(k string, def int64) int64 {
		v, has := c[k]
		if !has {
			return def
		}
		i, ok := asInt(v)
		if !ok || i < 0 {
			r.add(key, RuleType, "%s must be a non-negative integer, got %v", k, v)
			return def
		}
		return i
	}
	lo, hi := get("min", 0), get("max", 255)
	if lo > hi {
		r.add(key, RuleTextLength, "text min (%d) must not exceed max (%d)", lo, hi)
	}
	if hi > 255 {
		r.add(key, RuleTextLength, "text max must be at most 255, got %d", hi)
	}
	if v, has := c["mode"]; has {
		if s, _ := v.(string); s != "text" && s != "password" {
			r.add(key, RuleMode, "text mode must be text or password, got %v", v)
		}
	}
}
