package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Mask is the placeholder that replaces a secret's value.
const Mask = "***"

// secretKeys are keys whose values are secrets, in evbridge's settings and
// in drivers' options. A driver can also mark an options field with the
// struct tag `secret:"true"`.
var secretKeys = map[string]bool{
	"password": true, "passwd": true, "pass": true, "secret": true, "token": true,
	"api_key": true, "apikey": true, "access_token": true, "pin": true, "psk": true,
}

func isSecret(key string, f reflect.StructField) bool {
	if f.Tag.Get("secret") == "true" || secretKeys[key] {
		return true
	}
	for _, suffix := range []string{"_password", "_token", "_secret", "_key"} {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// Redacted returns c for bridge/info and logs: nested maps and lists keyed
// as in the file (durations as strings such as "2s", each charger's
// options under "options"), with every non-empty secret replaced by "***".
// It is ready for encoding/json and log/slog.
func (c *Config) Redacted() any {
	return redact(reflect.ValueOf(c).Elem(), false)
}

func redact(v reflect.Value, secret bool) any {
	if !v.IsValid() || !v.CanInterface() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return redact(v.Elem(), secret)
	}
	if secret {
		if v.IsZero() {
			return v.Interface()
		}
		return Mask
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		text, err := m.MarshalText()
		if err != nil {
			return nil
		}
		return string(text)
	}
	switch v.Kind() {
	case reflect.Struct:
		fields, names, inlineMap := fieldsOf(v.Type())
		out := make(map[string]any, len(names)+1)
		if inlineMap != nil {
			if m, ok := redact(v.FieldByIndex(inlineMap), false).(map[string]any); ok {
				for k, x := range m {
					out[k] = x
				}
			}
		}
		for _, name := range names {
			f := v.Type().FieldByIndex(fields[name])
			out[name] = redact(v.FieldByIndex(fields[name]), isSecret(name, f))
		}
		if t := v.Type(); t == reflect.TypeFor[Charger]() || t == reflect.TypeFor[Meter]() {
			out["options"] = redact(v.FieldByName("Options"), false)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = redact(v.Index(i), false)
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			out[k] = redact(iter.Value(), secretKeys[k])
		}
		return out
	}
	return v.Interface()
}
