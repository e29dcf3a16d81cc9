package hatest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Go equivalents of the voluptuous validators HA applies (cv.string,
// cv.boolean, vol.Coerce(float), the topic validators of mqtt/util.py, …).
// Values come from encoding/json with UseNumber.

// asString is cv.string: anything but null, a list or a map, as text.
func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// asFloat is vol.Coerce(float).
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// asInt is vol.Coerce(int): a float is truncated, a string must be an
// integer literal.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		f, err := x.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return int64(f), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return i, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// asBool is cv.boolean.
func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "yes", "on", "enable":
			return true, true
		case "0", "false", "no", "off", "disable":
			return false, true
		}
	case json.Number:
		f, err := x.Float64()
		return f != 0, err == nil
	}
	return false, false
}

// asList is cv.ensure_list: null → empty, a list as is, anything else as
// a one-element list.
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// checkTopic is mqtt/util.py valid_topic.
func checkTopic(v any) error {
	t, ok := asString(v)
	if !ok {
		return fmt.Errorf("topic must be a string, got %s", kind(v))
	}
	switch {
	case !utf8.ValidString(t):
		return fmt.Errorf("topic %q is not valid UTF-8", t)
	case t == "":
		return fmt.Errorf("topic must not be empty")
	case len(t) > 65535:
		return fmt.Errorf("topic is longer than 65535 bytes")
	}
	for _, r := range t {
		switch {
		case r == 0:
			return fmt.Errorf("topic %q contains a null character", t)
		case r <= 0x1f || r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("topic %q contains a control character", t)
		case r >= 0xfdd0 && r <= 0xfdef || r&0xffff == 0xfffe || r&0xffff == 0xffff:
			return fmt.Errorf("topic %q contains a non-character", t)
		}
	}
	return nil
}

// checkSubscribeTopic is valid_subscribe_topic: wildcards only as whole levels.
func checkSubscribeTopic(v any) error {
	if err := checkTopic(v); err != nil {
		return err
	}
	t, _ := asString(v)
	for i := 0; i < len(t); i++ {
		if t[i] == '+' && (i > 0 && t[i-1] != '/' || i < len(t)-1 && t[i+1] != '/') {
			return fmt.Errorf("topic %q: single-level wildcard must occupy an entire level", t)
		}
	}
	if i := strings.IndexByte(t, '#'); i >= 0 {
		if i != len(t)-1 {
			return fmt.Errorf("topic %q: multi-level wildcard must be the last character", t)
		}
		if len(t) > 1 && t[i-1] != '/' {
			return fmt.Errorf("topic %q: multi-level wildcard must follow a level separator", t)
		}
	}
	return nil
}

// checkPublishTopic is valid_publish_topic: no wildcards at all.
func checkPublishTopic(v any) error {
	if err := checkTopic(v); err != nil {
		return err
	}
	if t, _ := asString(v); strings.ContainsAny(t, "+#") {
		return fmt.Errorf("topic %q: wildcards cannot be used in topic names", t)
	}
	return nil
}

// isPublishTopicKey tells command topics (published to by HA) from state
// topics (subscribed to).
func isPublishTopicKey(key string) bool {
	return strings.HasSuffix(key, "command_topic") || key == "set_position_topic" || key == "set_fan_speed_topic"
}

// checkURL is cv.url: http or https with a host.
func checkURL(v any) error {
	s, ok := asString(v)
	if !ok {
		return fmt.Errorf("expected a URL, got %s", kind(v))
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q", s)
	}
	return nil
}

// checkConfigurationURL is cv.configuration_url: a homeassistant:// URL or cv.url.
func checkConfigurationURL(v any) error {
	if s, ok := v.(string); ok && strings.HasPrefix(s, "homeassistant://") {
		return nil
	}
	return checkURL(v)
}

// validEntityID is HA's valid_entity_id, applied after cv.entity_id lower-cases.
var validEntityID = regexp.MustCompile(`^[\da-z_]+\.[\da-z_]+$`)

func checkEntityID(s string) error {
	s = strings.ToLower(s)
	domain, object, _ := strings.Cut(s, ".")
	if !validEntityID.MatchString(s) || badSlug(domain) || badSlug(object) {
		return fmt.Errorf("%q is not an entity id (<domain>.<object_id>, [a-z0-9_], no leading, trailing or double _)", s)
	}
	return nil
}

func badSlug(s string) bool {
	return strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__")
}

// objectIDRE is the charset of discovery-topic node and object ids.
var objectIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
