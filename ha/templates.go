package ha

import "strconv"

// Value templates. Every key of the state may be missing or null, so no
// template indexes value_json directly: value_json.get() yields None for a
// missing key, and a rendered "None" is HA's PAYLOAD_NONE, which sets the
// entity to unknown on sensor, binary_sensor, switch, number and select.
// (A template error or an empty result would instead keep a stale value.)

// tplValue renders the key as is.
func tplValue(key string) string {
	return "{{ value_json.get('" + key + "') }}"
}

// tplNonEmpty renders the key, with "" (and missing, null) as None.
func tplNonEmpty(key string) string {
	return "{{ value_json.get('" + key + "') or None }}"
}

// tplText renders a free-text key cut to HA's 255-character state limit
// (a longer state is rejected). "" stays "" (no error); missing is None.
func tplText(key string) string {
	return "{% set v = value_json.get('" + key + "') %}{{ v[:255] if v is string else None }}"
}

// tplPhase renders element i of a per-phase array; a missing, null or
// short array gives None.
func tplPhase(key string, i int) string {
	return "{{ ((value_json.get('" + key + "') or []) + [None, None, None])[" + strconv.Itoa(i) + "] }}"
}

// tplOnOff renders a JSON bool as ON/OFF, and missing or null as None.
func tplOnOff(key string) string {
	return "{% set v = value_json.get('" + key + "') %}{{ 'None' if v is none else ('ON' if v else 'OFF') }}"
}

// tplOnOffNot renders a JSON bool inverted (true → OFF), for a problem
// sensor fed by an "ok" flag.
func tplOnOffNot(key string) string {
	return "{% set v = value_json.get('" + key + "') %}{{ 'None' if v is none else ('OFF' if v else 'ON') }}"
}

// tplInRange renders a number only inside [min, max], else None: HA's
// number entity logs an error for every out-of-range state (a paused
// charger often reports 0 A offered), so such states read as unknown.
func tplInRange(key string, min, max float64) string {
	return "{% set v = value_json.get('" + key + "') %}{{ v if v is number and v >= " + num(min) +
		" and v <= " + num(max) + " else None }}"
}

// tplDeviceError joins the device's error code and text ("" when none).
func tplDeviceError() string {
	return "{% set c = value_json.get('error_code') or '' %}{% set t = value_json.get('error_text') or '' %}" +
		"{{ (c ~ (': ' if c and t else '') ~ t)[:255] }}"
}

// tplCount renders the length of a list key (or the key itself when it is
// already a number).
func tplCount(key string) string {
	return "{% set v = value_json.get('" + key + "') %}{{ v | count if v is iterable and v is not string else v }}"
}

func num(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
