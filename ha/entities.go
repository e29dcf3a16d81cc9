package ha

import (
	"math"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Entity keys (the keys under cmps). Each key belongs to one platform
// only, so a capability change (e.g. a driver that learns it can set the
// current) removes one key and adds another, and MergeRemovals can tell HA
// to drop the old entity.
const (
	KeyStatus         = "status"
	KeyIECState       = "iec_state"
	KeyPlug           = "plug"
	KeyCharging       = "charging"
	KeyPower          = "power"
	KeySessionEnergy  = "session_energy"
	KeyEnergyTotal    = "energy_total"
	KeyCurrentLimit   = "current_limit"   // number, when CanSetCurrent
	KeyOfferedCurrent = "offered_current" // sensor, otherwise
	KeyEnabled        = "enabled"         // switch, when CanEnable
	KeyEnabledState   = "enabled_state"   // binary_sensor, otherwise
	KeyPhases         = "phases"          // select, when CanSwitchPhases
	KeyPhasesActive   = "phases_active"   // sensor, otherwise
	KeyMode           = "mode"            // select, when Modes is not empty
	KeyControl        = "control_reason"  // sensor, when Modes is not empty
	KeyPlanEnergy     = "plan_energy"     // number, when Plan
	KeyPlanDeparture  = "plan_departure"  // text, when Plan
	KeyReset          = "reset"           // button, when CanReset
	KeyError          = "error"
	KeyTemperature    = "temperature"
	KeyVehicleSoC     = "vehicle_soc"
	KeyRSSI           = "rssi"
	KeyIP             = "ip"
	KeyPollLatency    = "poll_latency"
	KeyLastError      = "last_error"
	KeyLinkProblem    = "link_problem"
	KeyLastSeen       = "last_seen"
)

// Platforms and categories used here.
const (
	pSensor       = "sensor"
	pBinarySensor = "binary_sensor"
	pNumber       = "number"
	pSelect       = "select"
	pSwitch       = "switch"
	pText         = "text"
	pButton       = "button"
	diagnostic    = "diagnostic"
)

// components collects the entities of one device, filling in the ids.
type components struct {
	uid  string // unique_id prefix: the device's object id
	eid  string // default_entity_id object-id prefix
	cmps map[string]component
}

func newComponents(uid, eid string) *components {
	return &components{uid: uid, eid: eid, cmps: map[string]component{}}
}

func (cs *components) add(key string, c component) {
	c.UniqueID = cs.uid + "_" + key
	c.DefaultEntityID = c.Platform + "." + cs.eid + "_" + key
	cs.cmps[key] = c
}

func measurement(name, deviceClass, unit string, precision int, tpl string) component {
	return component{Platform: pSensor, Name: name, DeviceClass: deviceClass, StateClass: "measurement",
		Unit: unit, DisplayPrecision: ptr(precision), ValueTemplate: tpl}
}

// chargerComponents is the entity set of one charger; state is read from
// the device payload's shared state_topic.
func chargerComponents(o Options, c ChargerInfo) map[string]component {
	eid := slug(c.ID)
	if eid == "" {
		eid = "charger"
	}
	cs := newComponents(ChargerObjectID(o, c.ID), eid)
	set := o.BaseTopic + "/" + c.ID + "/set/"

	statuses := make([]string, len(charger.Statuses))
	for i, s := range charger.Statuses {
		statuses[i] = string(s)
	}
	cs.add(KeyStatus, component{Platform: pSensor, Name: "Status", DeviceClass: "enum", Options: statuses,
		Icon: "mdi:ev-station", ValueTemplate: tplValue("status")})
	cs.add(KeyIECState, component{Platform: pSensor, Name: "IEC 61851 state", DeviceClass: "enum",
		Options: []string{"A", "B", "C", "D", "E", "F"}, EntityCategory: diagnostic, EnabledByDefault: ptr(false),
		Icon: "mdi:ev-plug-type2", ValueTemplate: tplNonEmpty("iec_state")})
	cs.add(KeyPlug, component{Platform: pBinarySensor, Name: "Plug", DeviceClass: "plug", ValueTemplate: tplOnOff("plug")})
	cs.add(KeyCharging, component{Platform: pBinarySensor, Name: "Charging", DeviceClass: "battery_charging",
		ValueTemplate: tplOnOff("charging")})

	cs.add(KeyPower, measurement("Power", "power", "W", 0, tplValue("power")))
	// Lifetime meter: the one for the Energy dashboard.
	cs.add(KeyEnergyTotal, component{Platform: pSensor, Name: "Total energy", DeviceClass: "energy",
		StateClass: "total_increasing", Unit: "kWh", DisplayPrecision: ptr(2), ValueTemplate: tplValue("energy_total")})
	// Session counter: no state_class. It falls to 0 at every new session
	// and the state carries no session start for last_reset, so `total`
	// would book each reset as negative energy in the statistics and
	// `total_increasing` is for meters; history still records it.
	cs.add(KeySessionEnergy, component{Platform: pSensor, Name: "Session energy", DeviceClass: "energy",
		Unit: "kWh", DisplayPrecision: ptr(2), ValueTemplate: tplValue("session_energy")})
	for i, l := range []string{"l1", "l2", "l3"} {
		up := strings.ToUpper(l)
		cs.add("current_"+l, measurement("Current "+up, "current", "A", 1, tplPhase("currents", i)))
		cs.add("voltage_"+l, measurement("Voltage "+up, "voltage", "V", 0, tplPhase("voltages", i)))
	}

	if c.CanSetCurrent {
		lo, hi, step := currentRange(c)
		cs.add(KeyCurrentLimit, component{Platform: pNumber, Name: "Current limit", DeviceClass: "current", Unit: "A",
			ValueTemplate: tplInRange("current_limit", lo, hi), CommandTopic: set + "current_limit",
			Min: ptr(lo), Max: ptr(hi), Step: ptr(step), Mode: "slider", QoS: 1})
	} else {
		cs.add(KeyOfferedCurrent, measurement("Current limit", "current", "A", 1, tplValue("current_limit")))
	}
	if c.CanEnable {
		cs.add(KeyEnabled, component{Platform: pSwitch, Name: "Charging enabled", Icon: "mdi:ev-station",
			ValueTemplate: tplOnOff("enabled"), CommandTopic: set + "enabled", PayloadOn: "ON", PayloadOff: "OFF", QoS: 1})
	} else {
		cs.add(KeyEnabledState, component{Platform: pBinarySensor, Name: "Charging enabled", Icon: "mdi:ev-station",
			ValueTemplate: tplOnOff("enabled")})
	}
	if c.CanSwitchPhases {
		cs.add(KeyPhases, component{Platform: pSelect, Name: "Phases", Options: []string{"1", "3"}, Icon: "mdi:sine-wave",
			ValueTemplate: tplValue("phases"), CommandTopic: set + "phases", QoS: 1})
	} else {
		cs.add(KeyPhasesActive, component{Platform: pSensor, Name: "Phases", Icon: "mdi:sine-wave",
			ValueTemplate: tplValue("phases")})
	}
	if modes := cleanModes(c.Modes); len(modes) > 0 {
		cs.add(KeyMode, component{Platform: pSelect, Name: "Mode", Options: modes, Icon: "mdi:solar-power",
			ValueTemplate: tplNonEmpty("mode"), CommandTopic: set + "mode", QoS: 1})
		cs.add(KeyControl, component{Platform: pSensor, Name: "Controller", Icon: "mdi:head-cog-outline",
			ValueTemplate: tplText("control_reason")})
		if c.Plan {
			cs.add(KeyPlanEnergy, component{Platform: pNumber, Name: "Plan energy", DeviceClass: "energy", Unit: "kWh",
				ValueTemplate: tplValue("plan_energy"), CommandTopic: set + "plan_energy",
				Min: ptr(0.0), Max: ptr(150.0), Step: ptr(0.5), Mode: "box", QoS: 1})
			cs.add(KeyPlanDeparture, component{Platform: pText, Name: "Plan departure", Icon: "mdi:clock-end",
				ValueTemplate: tplText("plan_departure"), CommandTopic: set + "plan_departure",
				Pattern: `^([01][0-9]|2[0-3]):[0-5][0-9]$`, QoS: 1})
		}
	}

	if c.CanReset {
		cs.add(KeyReset, component{Platform: pButton, Name: "Restart", DeviceClass: "restart", EntityCategory: "config",
			CommandTopic: set + "reset", PayloadPress: "PRESS", QoS: 1})
	}
	if c.VehicleSoC {
		cs.add(KeyVehicleSoC, component{Platform: pSensor, Name: "Vehicle battery", DeviceClass: "battery",
			StateClass: "measurement", Unit: "%", DisplayPrecision: ptr(0), ValueTemplate: tplValue("vehicle_soc")})
	}
	cs.add(KeyError, component{Platform: pSensor, Name: "Error", Icon: "mdi:alert-circle-outline", ValueTemplate: tplDeviceError()})
	cs.add(KeyTemperature, component{Platform: pSensor, Name: "Temperature", DeviceClass: "temperature",
		StateClass: "measurement", Unit: "°C", DisplayPrecision: ptr(1), EntityCategory: diagnostic,
		ValueTemplate: tplValue("temperature")})
	cs.add(KeyRSSI, component{Platform: pSensor, Name: "Wi-Fi signal", DeviceClass: "signal_strength",
		StateClass: "measurement", Unit: "dBm", DisplayPrecision: ptr(0), EntityCategory: diagnostic,
		ValueTemplate: tplValue("rssi")})
	cs.add(KeyIP, component{Platform: pSensor, Name: "IP address", Icon: "mdi:ip-network", EntityCategory: diagnostic,
		ValueTemplate: tplNonEmpty("ip")})
	cs.add(KeyPollLatency, component{Platform: pSensor, Name: "Poll latency", DeviceClass: "duration",
		StateClass: "measurement", Unit: "ms", DisplayPrecision: ptr(0), EntityCategory: diagnostic,
		EnabledByDefault: ptr(false), ValueTemplate: tplValue("poll_latency")})
	cs.add(KeyLastError, component{Platform: pSensor, Name: "Last error", Icon: "mdi:alert-outline",
		EntityCategory: diagnostic, ValueTemplate: tplText("last_error")})
	cs.add(KeyLinkProblem, component{Platform: pBinarySensor, Name: "Link problem", DeviceClass: "problem",
		EntityCategory: diagnostic, ValueTemplate: tplOnOff("link_problem")})
	cs.add(KeyLastSeen, component{Platform: pSensor, Name: "Last seen", DeviceClass: "timestamp",
		EntityCategory: diagnostic, ValueTemplate: tplNonEmpty("last_seen")})
	return cs.cmps
}

// currentRange returns a range HA accepts (min < max, step ≥ 0.001; a bad
// number entity would make HA drop the whole device): a zero or invalid
// minimum becomes IEC 61851's 6 A, a missing maximum 16 A, a missing step
// 1 A.
func currentRange(c ChargerInfo) (lo, hi, step float64) {
	lo, hi, step = c.MinCurrent, c.MaxCurrent, c.CurrentStep
	if !finite(step) || step < 0.001 {
		step = 1
	}
	if !finite(lo) || lo <= 0 {
		lo = 6
	}
	if !finite(hi) || hi <= lo {
		hi = math.Max(16, lo+step)
	}
	return lo, hi, step
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// cleanModes drops empty and repeated modes, keeping the order.
func cleanModes(modes []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range modes {
		if m == "" || seen[m] {
			continue
		}
		seen[m] = true
		out = append(out, m)
	}
	return out
}
