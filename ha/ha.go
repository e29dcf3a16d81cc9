// Package ha builds Home Assistant MQTT discovery payloads for evbridge: one
// device-based discovery message (`<prefix>/device/<object_id>/config`) for
// the bridge itself and one per charger, linked to the bridge with
// via_device. It only builds messages; publishing, re-announcing on HA's
// birth message and clearing stale configs is the core's job.
//
// The rules followed are in shared/notes/ha-conventions.md; package
// ha/hatest checks every payload built here against them.
package ha

import (
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Defaults used where Options leaves a field empty.
const (
	DefaultPrefix    = "homeassistant"
	DefaultBaseTopic = "evbridge"
	DefaultBridgeID  = "evbridge"
)

// OriginName is the origin.name of every payload; IsOwnDiscovery keys on it.
const OriginName = "evbridge"

// Options are the bridge-wide settings every payload depends on.
type Options struct {
	Prefix     string // discovery prefix, "homeassistant"
	BaseTopic  string // "evbridge"
	BridgeID   string // stable id of this bridge instance, used in identifiers and unique_ids
	Version    string // evbridge version, for origin and the bridge device sw_version
	SupportURL string // origin url
	// WebURL is the bridge's own web UI (configuration_url of the bridge
	// device); "" if none.
	WebURL string
	// Site adds the site controller's sensors (grid, PV, battery, house,
	// surplus power, meter state) to the bridge device.
	Site bool
}

// ChargerInfo describes one charger: identity and capabilities.
type ChargerInfo struct {
	ID       string           // stable charger id (topic level), e.g. "garage"
	Name     string           // display name for the HA device; "" → derived from ID
	Identity charger.Identity // brand/model/serial/firmware (may be partly empty)
	Address  string           // host or host:port, for configuration_url when the device has a web UI
	// WebURL is the device's web UI: an absolute http(s) URL, or a path
	// such as "/" to be joined to Address; "" if none.
	WebURL string

	CanSetCurrent                       bool
	MinCurrent, MaxCurrent, CurrentStep float64 // A
	CanEnable, CanSwitchPhases          bool
	// CanReset adds a restart button.
	CanReset bool
	Modes    []string // options of the mode select; empty → no mode entity
	// Plan adds the plan-mode entities (target energy, departure time);
	// only with Modes.
	Plan bool
	// VehicleSoC adds the car's battery sensor: set once the charger has
	// reported a state of charge.
	VehicleSoC bool
}

// Message is one MQTT publication.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
	QoS     byte
}

// discoveryQoS is the QoS of every discovery message, as Zigbee2MQTT does.
const discoveryQoS = 1

func (o Options) norm() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.BaseTopic == "" {
		o.BaseTopic = DefaultBaseTopic
	}
	if o.BridgeID == "" {
		o.BridgeID = DefaultBridgeID
	}
	o.Prefix = strings.TrimSuffix(o.Prefix, "/")
	o.BaseTopic = strings.TrimSuffix(o.BaseTopic, "/")
	return o
}

// idPart maps s onto HA's object-id charset [a-zA-Z0-9_-]: every other
// rune becomes "_". Charger ids are topic levels and normally already fit;
// two ids differing only in such runes would collide (hatest.CheckSet
// reports it).
func idPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if isIDRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// slug maps s onto the object-id part of an HA entity id: lower case
// [a-z0-9_], no leading, trailing or doubled "_".
func slug(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}

// BridgeObjectID is the <object_id> of the bridge's own device topic; it is
// also the bridge device's identifier and the chargers' via_device.
func BridgeObjectID(o Options) string {
	return idPart(o.norm().BridgeID)
}

// ChargerObjectID is the <object_id> used in
// `<prefix>/device/<object_id>/config` for a charger; it is also the
// charger device's identifier and the prefix of its unique_ids.
func ChargerObjectID(o Options, chargerID string) string {
	return BridgeObjectID(o) + "_" + idPart(chargerID)
}

func deviceTopic(o Options, objectID string) string {
	return o.norm().Prefix + "/device/" + objectID + "/config"
}

// Removal is the empty retained payload on a device topic that makes HA
// remove the device and all its entities.
func Removal(o Options, deviceObjectID string) Message {
	return Message{Topic: deviceTopic(o, deviceObjectID), Payload: []byte{}, Retain: true, QoS: discoveryQoS}
}
