package ha

import (
	"net/url"
	"strings"
	"unicode"
)

// BridgeDevice is the device discovery message of the bridge itself: a
// connectivity sensor on `<base>/bridge/state` (deliberately without
// availability, so it reads "off" rather than "unavailable" when the
// bridge's last will fires) and the number of configured chargers and the
// start time from `<base>/bridge/info`. The version is the device's
// sw_version, not a sensor.
func BridgeDevice(o Options) Message {
	o = o.norm()
	oid := BridgeObjectID(o)
	eid := slug(o.BridgeID)
	if eid == "" {
		eid = slug(DefaultBridgeID)
	}
	name := "evbridge"
	if o.BridgeID != DefaultBridgeID {
		name += " " + o.BridgeID
	}
	bridgeState := o.BaseTopic + "/bridge/state"

	cs := newComponents(oid, eid)
	cs.add("connection", component{Platform: pBinarySensor, Name: "Connection", DeviceClass: "connectivity",
		EntityCategory: diagnostic, StateTopic: bridgeState, PayloadOn: "online", PayloadOff: "offline"})
	cs.add("chargers", component{Platform: pSensor, Name: "Chargers", StateClass: "measurement", Icon: "mdi:ev-station",
		AvailabilityTopic: bridgeState, ValueTemplate: tplCount("chargers")})
	cs.add("discovered", component{Platform: pSensor, Name: "Chargers waiting to be accepted", Icon: "mdi:magnify-plus-outline",
		StateTopic: o.BaseTopic + "/bridge/discovered", AvailabilityTopic: bridgeState,
		ValueTemplate:       "{{ value_json | length if value_json is sequence else None }}",
		JSONAttributesTopic: o.BaseTopic + "/bridge/discovered", JSONAttributesTemplate: `{{ {"chargers": value_json} | tojson }}`})
	cs.add("started", component{Platform: pSensor, Name: "Started", DeviceClass: "timestamp", EntityCategory: diagnostic,
		AvailabilityTopic: bridgeState, ValueTemplate: tplNonEmpty("started")})
	if o.Site {
		site := o.BaseTopic + "/site/state"
		for _, k := range []struct{ key, name string }{
			{"grid_power", "Grid power"}, {"pv_power", "PV power"}, {"battery_power", "Battery power"},
			{"house_power", "House power"}, {"surplus", "Surplus power"},
		} {
			c := measurement(k.name, "power", "W", 0, tplValue(k.key))
			c.StateTopic, c.AvailabilityTopic = site, bridgeState
			cs.add(k.key, c)
		}
		soc := measurement("Battery charge", "battery", "%", 0, tplValue("battery_soc"))
		soc.StateTopic, soc.AvailabilityTopic = site, bridgeState
		cs.add("battery_soc", soc)
		cs.add("meter_problem", component{Platform: pBinarySensor, Name: "Grid meter problem", DeviceClass: "problem",
			StateTopic: site, AvailabilityTopic: bridgeState, ValueTemplate: tplOnOffNot("meter_ok")})
		set := o.BaseTopic + "/site/set/"
		for _, n := range []struct {
			key, name, class, unit string
			min, max, step         float64
		}{
			{"start_threshold", "PV start threshold", "power", "W", 0, 5000, 50},
			{"stop_threshold", "PV stop threshold", "power", "W", 0, 5000, 50},
			{"residual_power", "Residual power", "power", "W", -2000, 2000, 50},
			{"battery_priority_soc", "Battery priority below", "battery", "%", 0, 100, 5},
		} {
			cs.add(n.key, component{Platform: pNumber, Name: n.name, DeviceClass: n.class, Unit: n.unit,
				EntityCategory: "config", StateTopic: site, AvailabilityTopic: bridgeState,
				ValueTemplate: tplInRange(n.key, n.min, n.max), CommandTopic: set + n.key,
				Min: ptr(n.min), Max: ptr(n.max), Step: ptr(n.step), Mode: "box", QoS: 1})
		}
		cs.add("site_control", component{Platform: pSensor, Name: "Site controller", Icon: "mdi:transmission-tower",
			StateTopic: site, AvailabilityTopic: bridgeState, ValueTemplate: tplText("meter_reason")})
	}

	p := devicePayload{
		Device: deviceInfo{
			Identifiers: []string{oid}, Name: name, Manufacturer: "evbridge", Model: "Bridge",
			SWVersion: o.Version, ConfigurationURL: validURL(o.WebURL),
		},
		Origin:     originOf(o),
		StateTopic: o.BaseTopic + "/bridge/info",
		Components: cs.cmps,
	}
	return Message{Topic: deviceTopic(o, oid), Payload: encode(p), Retain: true, QoS: discoveryQoS}
}

// ChargerDevice is the device discovery message of one charger. Its
// entities read `<base>/<id>/state`, are available while both the bridge
// and the charger are (availability_mode all), and command through
// `<base>/<id>/set/<field>`.
func ChargerDevice(o Options, c ChargerInfo) Message {
	o = o.norm()
	oid := ChargerObjectID(o, c.ID)
	base := o.BaseTopic + "/" + c.ID
	p := devicePayload{
		Device: deviceInfo{
			Identifiers:      []string{oid},
			Name:             chargerName(c),
			Manufacturer:     c.Identity.Brand,
			Model:            c.Identity.Model,
			SerialNumber:     c.Identity.Serial,
			SWVersion:        c.Identity.Firmware,
			ConfigurationURL: chargerURL(c),
			ViaDevice:        BridgeObjectID(o),
		},
		Origin: originOf(o),
		Availability: []availability{
			{Topic: o.BaseTopic + "/bridge/state"},
			{Topic: base + "/availability"},
		},
		AvailabilityMode: "all",
		StateTopic:       base + "/state",
		Components:       chargerComponents(o, c),
	}
	return Message{Topic: deviceTopic(o, oid), Payload: encode(p), Retain: true, QoS: discoveryQoS}
}

func originOf(o Options) origin {
	return origin{Name: OriginName, SWVersion: o.Version, SupportURL: validURL(o.SupportURL)}
}

// chargerName is c.Name, else the id with "_" and "-" as spaces and each
// word capitalised: "garage_left" → "Garage Left".
func chargerName(c ChargerInfo) string {
	if n := strings.TrimSpace(c.Name); n != "" {
		return n
	}
	words := strings.FieldsFunc(c.ID, func(r rune) bool { return r == '_' || r == '-' || unicode.IsSpace(r) })
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		words[i] = string(r)
	}
	if len(words) == 0 {
		return "Charger"
	}
	return strings.Join(words, " ")
}

// chargerURL is the device's configuration_url: WebURL when absolute,
// else WebURL as a path on Address. HA rejects the whole device for a bad
// configuration_url, so anything that is not an http(s) URL is left out.
func chargerURL(c ChargerInfo) string {
	w := strings.TrimSpace(c.WebURL)
	if w == "" {
		return ""
	}
	if strings.Contains(w, "://") {
		return validURL(w)
	}
	if c.Address == "" {
		return ""
	}
	if !strings.HasPrefix(w, "/") {
		w = "/" + w
	}
	return validURL("http://" + c.Address + w)
}

// validURL returns s if HA's cv.url would accept it (http or https with a
// host), else "".
func validURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}
