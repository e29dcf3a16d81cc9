package ha

import (
	"encoding/json"
	"strings"
)

// IsOwnDiscovery reports whether topic/payload is a device discovery
// config this bridge (same Prefix, BaseTopic and BridgeID) published
// earlier, and returns its object id. It recognises both the bridge's own
// device (object id BridgeObjectID) and its chargers; an empty payload, a
// foreign or malformed one gives false. The core uses it at start to clear
// the configs of chargers that no longer exist.
//
// A payload is ours when origin.name is OriginName, the device is the
// bridge (identifiers hold BridgeObjectID) or hangs off it (via_device),
// and it reads a topic under BaseTopic.
func IsOwnDiscovery(o Options, topic string, payload []byte) (objectID string, ok bool) {
	o = o.norm()
	rest, found := strings.CutPrefix(topic, o.Prefix+"/device/")
	if !found {
		return "", false
	}
	objectID, found = strings.CutSuffix(rest, "/config")
	if !found || objectID == "" || strings.IndexFunc(objectID, func(r rune) bool { return !isIDRune(r) }) >= 0 {
		return "", false
	}
	var p map[string]json.RawMessage
	if len(payload) == 0 || json.Unmarshal(payload, &p) != nil {
		return "", false
	}
	var org struct{ Name string }
	if !decodeField(p, &org, "origin", "o") || org.Name != OriginName {
		return "", false
	}
	var dev struct {
		Identifiers json.RawMessage `json:"identifiers"`
		IDs         json.RawMessage `json:"ids"`
		ViaDevice   string          `json:"via_device"`
	}
	if !decodeField(p, &dev, "device", "dev") {
		return "", false
	}
	bridge := BridgeObjectID(o)
	if dev.ViaDevice != bridge && !hasIdentifier(dev.Identifiers, bridge) && !hasIdentifier(dev.IDs, bridge) {
		return "", false
	}
	if !readsBase(p, o.BaseTopic+"/") {
		return "", false
	}
	return objectID, true
}

// decodeField decodes the first of keys present in p into v.
func decodeField(p map[string]json.RawMessage, v any, keys ...string) bool {
	for _, k := range keys {
		if raw, ok := p[k]; ok {
			return json.Unmarshal(raw, v) == nil
		}
	}
	return false
}

func hasIdentifier(raw json.RawMessage, id string) bool {
	if len(raw) == 0 {
		return false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == id
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, s := range many {
		if s == id {
			return true
		}
	}
	return false
}

// readsBase reports whether the root state topic, a root availability
// topic or any component's state or availability topic lies under base.
func readsBase(p map[string]json.RawMessage, base string) bool {
	var s string
	if decodeField(p, &s, "state_topic", "stat_t") && strings.HasPrefix(s, base) {
		return true
	}
	var av []struct {
		Topic string `json:"topic"`
		T     string `json:"t"`
	}
	if decodeField(p, &av, "availability", "avty") {
		for _, a := range av {
			if strings.HasPrefix(a.Topic, base) || strings.HasPrefix(a.T, base) {
				return true
			}
		}
	}
	var cmps map[string]map[string]json.RawMessage
	if !decodeField(p, &cmps, "cmps", "components") {
		return false
	}
	for _, c := range cmps {
		for _, k := range []string{"state_topic", "stat_t", "availability_topic", "avty_t"} {
			if decodeField(c, &s, k) && strings.HasPrefix(s, base) {
				return true
			}
		}
	}
	return false
}

// MergeRemovals returns next with a platform-only entry (`{"platform": p}`)
// for every component of prev that next no longer has. prev is the
// payload last published (or found retained) on the same topic. HA keeps
// an entity whose key merely disappears from a device payload; the
// platform-only entry is what removes it. Keeping such entries in later
// payloads is harmless. If prev is empty or not a device payload, next is
// returned unchanged.
func MergeRemovals(prev []byte, next Message) Message {
	oldCmps := componentPlatforms(prev)
	if len(oldCmps) == 0 {
		return next
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(next.Payload, &p) != nil {
		return next
	}
	var cmps map[string]json.RawMessage
	if !decodeField(p, &cmps, "cmps") {
		return next
	}
	changed := false
	for key, platform := range oldCmps {
		if _, ok := cmps[key]; ok {
			continue
		}
		cmps[key] = encode(map[string]string{"platform": platform})
		changed = true
	}
	if !changed {
		return next
	}
	var d devicePayload
	if json.Unmarshal(next.Payload, &d) != nil {
		return next
	}
	// Re-encode through the typed payload so key order stays stable; the
	// removal entries are plain components carrying only a platform.
	out := struct {
		devicePayload
		Components map[string]json.RawMessage `json:"cmps"`
	}{d, cmps}
	next.Payload = encode(out)
	return next
}

// componentPlatforms maps each component key of a device payload to its
// platform (long or short form).
func componentPlatforms(payload []byte) map[string]string {
	var p map[string]json.RawMessage
	if len(payload) == 0 || json.Unmarshal(payload, &p) != nil {
		return nil
	}
	var cmps map[string]map[string]json.RawMessage
	if !decodeField(p, &cmps, "cmps", "components") {
		return nil
	}
	out := map[string]string{}
	for key, c := range cmps {
		var platform string
		if decodeField(c, &platform, "platform", "p") && platform != "" {
			out[key] = platform
		}
	}
	return out
}
