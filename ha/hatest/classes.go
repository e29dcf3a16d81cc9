package hatest

import "strings"

// supportedComponents is HA's SUPPORTED_COMPONENTS (2026 dev).
var supportedComponents = set("alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover",
	"date", "datetime", "device_automation", "device_tracker", "event", "fan", "humidifier", "image", "infrared",
	"lawn_mower", "light", "lock", "notify", "number", "scene", "siren", "select", "sensor", "switch", "tag",
	"text", "time", "update", "vacuum", "valve", "water_heater")

// nonEntityComponents need no unique_id in device discovery.
var nonEntityComponents = set("device_automation", "tag")

// Device classes per platform. Sensor and number include the newest
// additions (absolute_humidity, pm4, reactive_energy, temperature_delta),
// so a class only a newer HA knows is accepted.
var (
	sensorNonNumeric = set("date", "enum", "timestamp")

	sensorDeviceClasses = union(sensorNonNumeric, set("absolute_humidity", "apparent_power", "aqi", "area",
		"atmospheric_pressure", "battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide",
		"conductivity", "current", "data_rate", "data_size", "distance", "duration", "energy", "energy_distance",
		"energy_storage", "frequency", "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary",
		"nitrogen_dioxide", "nitrogen_monoxide", "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "pm4",
		"power_factor", "power", "precipitation", "precipitation_intensity", "pressure", "reactive_energy",
		"reactive_power", "signal_strength", "sound_pressure", "speed", "sulphur_dioxide", "temperature",
		"temperature_delta", "volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage",
		"volume", "volume_storage", "volume_flow_rate", "water", "weight", "wind_direction", "wind_speed"))

	numberDeviceClasses = minus(sensorDeviceClasses, sensorNonNumeric)

	binarySensorDeviceClasses = set("battery", "battery_charging", "carbon_monoxide", "cold", "connectivity",
		"door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
		"opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper",
		"update", "vibration", "window")

	deviceClasses = map[string]map[string]bool{
		"sensor":        sensorDeviceClasses,
		"number":        numberDeviceClasses,
		"binary_sensor": binarySensorDeviceClasses,
		"switch":        set("outlet", "switch"),
		"button":        set("identify", "restart", "update"),
		"update":        set("firmware"),
	}
)

// deviceClassUnits is DEVICE_CLASS_UNITS for the classes this validator
// knows exactly (units are case-sensitive; "" stands for no unit). A class
// missing here is not unit-checked.
var deviceClassUnits = map[string]map[string]bool{
	"power":           set("mW", "W", "kW", "MW", "GW", "TW"),
	"energy":          set("J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"),
	"current":         set("mA", "A"),
	"voltage":         set("μV", "mV", "V", "kV", "MV"),
	"signal_strength": set("dB", "dBm"),
	"temperature":     set("°C", "°F", "K"),
	"duration":        set("d", "h", "min", "s", "ms", "μs"),
	"frequency":       set("Hz", "kHz", "MHz", "GHz"),
	"battery":         set("%"),
	"humidity":        set("%"),
	"power_factor":    set("%", ""),
	"enum":            set(""),
	"date":            set(""),
	"timestamp":       set(""),
}

// stateClasses are the valid sensor state classes.
var stateClasses = set("measurement", "measurement_angle", "total", "total_increasing")

// deviceClassStateClasses is DEVICE_CLASS_STATE_CLASSES for the classes
// known here ("" stands for no state class). HA only warns at runtime
// about a mismatch; this validator rejects it.
var deviceClassStateClasses = map[string]map[string]bool{
	"power":           set("", "measurement"),
	"current":         set("", "measurement"),
	"voltage":         set("", "measurement"),
	"signal_strength": set("", "measurement"),
	"temperature":     set("", "measurement"),
	"frequency":       set("", "measurement"),
	"battery":         set("", "measurement"),
	"humidity":        set("", "measurement"),
	"power_factor":    set("", "measurement"),
	"energy":          set("", "total", "total_increasing"),
	"duration":        set("", "measurement", "total", "total_increasing"),
	"enum":            set(""),
	"date":            set(""),
	"timestamp":       set(""),
}

// normalizeUnit applies HA's AMBIGUOUS_UNITS: the legacy micro sign
// (U+00B5) becomes Greek mu (U+03BC).
func normalizeUnit(u string) string {
	return strings.ReplaceAll(u, "\u00b5", "\u03bc")
}

func set(vals ...string) map[string]bool {
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

func union(a, b map[string]bool) map[string]bool {
	m := make(map[string]bool, len(a)+len(b))
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func minus(a, b map[string]bool) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		if !b[k] {
			m[k] = true
		}
	}
	return m
}
