package hatest

import (
	"errors"
	"strings"
	"testing"
)

const devTopic = "homeassistant/device/evb_garage/config"

// devPayload is a minimal valid device payload around the given cmps
// (JSON object text); extra is spliced into the root ("" for none).
func devPayload(cmps, extra string) string {
	root := `"device":{"identifiers":["evb_garage"],"name":"Garage"},` +
		`"origin":{"name":"evbridge","sw_version":"1.0","support_url":"https://example.org"},` +
		`"state_topic":"evb/garage/state",`
	if extra != "" {
		root += extra + ","
	}
	return "{" + root + `"cmps":` + cmps + "}"
}

// one wraps a single component under key "c".
func one(c string) string { return `{"c":` + c + `}` }

const okSensor = `{"platform":"sensor","unique_id":"u1","device_class":"power","unit_of_measurement":"W","state_class":"measurement"}`

func TestValidateAcceptsValidForms(t *testing.T) {
	cases := []struct{ name, topic, payload string }{
		{"device long form", devTopic, devPayload(one(okSensor), "")},
		{"device short form", devTopic, `{"dev":{"ids":"x","mf":"m","mdl":"M","sn":"1","sw":"2","cu":"http://10.0.0.5/"},` +
			`"o":{"name":"o","sw":"1","url":"https://example.org"},"stat_t":"a/b","avty":[{"t":"a/avail","pl_avail":"up"}],` +
			`"avty_mode":"all","cmps":{"p1":{"p":"sensor","uniq_id":"u","dev_cla":"energy","unit_of_meas":"kWh",` +
			`"stat_cla":"total_increasing","val_tpl":"{{ value_json.e }}","def_ent_id":"sensor.x_e","ent_cat":"diagnostic"},` +
			`"n":{"p":"number","uniq_id":"n","cmd_t":"a/set","min":6,"max":"16","step":0.5,"mode":"box","dev_cla":"current","unit_of_meas":"A"}}}`},
		{"removal", devTopic, ""},
		{"component removal entry", devTopic, devPayload(`{"gone":{"p":"sensor"},"c":`+okSensor+`}`, "")},
		{"migration request", devTopic, `{"migr_discvry":true}`},
		{"single component", "homeassistant/sensor/garage/power/config",
			`{"stat_t":"evb/garage/state","dev_cla":"power","unit_of_meas":"W","name":null}`},
		{"tilde base", "homeassistant/switch/sw/config", `{"~":"evb/sw","cmd_t":"~/set","stat_t":"~/state"}`},
		{"subscribe wildcards", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","state_topic":"a/+/b/#"}`), "")},
		{"micro sign normalised", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","device_class":"voltage","unit_of_measurement":"\u00b5V"}`), "")},
		{"enum sensor", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","device_class":"enum","options":["a","b"]}`), "")},
		{"session energy without state class", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","device_class":"energy","unit_of_measurement":"kWh"}`), "")},
		{"total with last reset", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","device_class":"energy","unit_of_measurement":"Wh","state_class":"total","last_reset_value_template":"{{ value_json.t }}"}`), "")},
		{"device_automation without unique_id", devTopic, devPayload(`{"t":{"p":"device_automation","atype":"trigger","t":"a/b","type":"x","stype":"y"}}`, "")},
		{"invented abbreviation ignored", devTopic, devPayload(one(`{"p":"number","uniq_id":"u","cmd_t":"a/set","max_cur":16}`), "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, err := range Validate(tc.topic, []byte(tc.payload)) {
				t.Error(err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	sensor := func(extra string) string {
		return devPayload(one(`{"platform":"sensor","unique_id":"u",`+extra+`}`), "")
	}
	number := func(extra string) string {
		return devPayload(one(`{"platform":"number","unique_id":"u","command_topic":"a/set"`+extra+`}`), "")
	}
	cases := []struct {
		name, topic, payload string
		rule                 Rule
		component            string
	}{
		{"object id charset", "homeassistant/device/evb garage/config", "{}", RuleTopic, ""},
		{"too many levels", "homeassistant/device/a/b/c/config", "{}", RuleTopic, ""},
		{"not a config topic", "homeassistant/device/a/state", "{}", RuleTopic, ""},
		{"unsupported component", "homeassistant/charger/a/config", "{}", RuleComponent, ""},
		{"not JSON", devTopic, "not json", RuleJSON, ""},
		{"JSON array", devTopic, "[1,2]", RuleJSON, ""},
		{"trailing data", devTopic, `{} {}`, RuleJSON, ""},
		{"migrate not true", devTopic, `{"migrate_discovery":false}`, RuleMigrate, ""},
		{"root extra key", devTopic, devPayload(one(okSensor), `"name":"Garage"`), RuleExtraKey, ""},
		{"root tilde", devTopic, devPayload(one(okSensor), `"~":"evb"`), RuleExtraKey, ""},
		{"device missing", devTopic, `{"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"device without identifiers", devTopic, `{"device":{"name":"x"},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"device empty identifier", devTopic, `{"device":{"identifiers":""},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"device unknown key", devTopic, `{"device":{"ids":["x"],"support_url":"https://x.org"},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleExtraKey, ""},
		{"device invented abbreviation", devTopic, `{"device":{"ids":["x"],"mfr":"m"},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleExtraKey, ""},
		{"device null sw_version", devTopic, `{"device":{"ids":["x"],"sw_version":null},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"device bad configuration_url", devTopic, `{"device":{"ids":["x"],"cu":"10.0.0.5"},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"device bad connection", devTopic, `{"device":{"cns":[["mac"]]},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleDevice, ""},
		{"origin missing", devTopic, `{"device":{"ids":["x"]},"cmps":` + one(okSensor) + `}`, RuleOrigin, ""},
		{"origin without name", devTopic, `{"device":{"ids":["x"]},"o":{"sw":"1"},"cmps":` + one(okSensor) + `}`, RuleOrigin, ""},
		{"origin unknown key", devTopic, `{"device":{"ids":["x"]},"o":{"name":"o","version":"1"},"cmps":` + one(okSensor) + `}`, RuleExtraKey, ""},
		{"origin bad url", devTopic, `{"device":{"ids":["x"]},"o":{"name":"o","url":"ftp://x"},"cmps":` + one(okSensor) + `}`, RuleOrigin, ""},
		{"single component bad origin", "homeassistant/sensor/x/config", `{"stat_t":"a","o":{"sw":"1"}}`, RuleOrigin, ""},
		{"cmps missing", devTopic, `{"device":{"ids":["x"]},"origin":{"name":"o"}}`, RuleComponents, ""},
		{"cmps not an object", devTopic, `{"device":{"ids":["x"]},"origin":{"name":"o"},"cmps":[]}`, RuleComponents, ""},
		{"component not an object", devTopic, devPayload(`{"c":"sensor"}`, ""), RuleComponents, "c"},
		{"platform missing", devTopic, devPayload(one(`{"unique_id":"u","state_topic":"a"}`), ""), RulePlatform, "c"},
		{"platform unsupported", devTopic, devPayload(one(`{"platform":"charger","unique_id":"u"}`), ""), RulePlatform, "c"},
		{"unique_id missing", devTopic, devPayload(one(`{"platform":"sensor","state_topic":"a"}`), ""), RuleUniqueID, "c"},
		{"sensor without state_topic", devTopic, `{"device":{"ids":["x"]},"origin":{"name":"o"},"cmps":` + one(okSensor) + `}`, RuleRequired, "c"},
		{"number without command_topic", devTopic, devPayload(one(`{"platform":"number","unique_id":"u"}`), ""), RuleRequired, "c"},
		{"select without options", devTopic, devPayload(one(`{"platform":"select","unique_id":"u","command_topic":"a/set"}`), ""), RuleRequired, "c"},
		{"select empty options", devTopic, devPayload(one(`{"platform":"select","unique_id":"u","command_topic":"a/set","options":[]}`), ""), RuleType, "c"},
		{"command topic wildcard", devTopic, number(`,"cmd_t":"a/+/set"`), RulePublishTopic, "c"},
		{"root command topic wildcard", devTopic, devPayload(one(okSensor), `"command_topic":"a/#"`), RulePublishTopic, ""},
		{"partial-level wildcard", devTopic, sensor(`"state_topic":"a/b+"`), RuleSubscribeTopic, "c"},
		{"hash not last", devTopic, sensor(`"state_topic":"a/#/b"`), RuleSubscribeTopic, "c"},
		{"empty topic", devTopic, sensor(`"state_topic":""`), RuleSubscribeTopic, "c"},
		{"control char in topic", devTopic, sensor(`"state_topic":"a/\u0007"`), RuleSubscribeTopic, "c"},
		{"topic not a string", devTopic, sensor(`"json_attributes_topic":["a"]`), RuleSubscribeTopic, "c"},
		{"qos 3", devTopic, sensor(`"qos":3`), RuleQoS, "c"},
		{"qos text", devTopic, sensor(`"qos":"one"`), RuleQoS, "c"},
		{"sensor device class", devTopic, sensor(`"device_class":"charger"`), RuleDeviceClass, "c"},
		{"binary_sensor device class", devTopic, devPayload(one(`{"platform":"binary_sensor","unique_id":"u","device_class":"plugged"}`), ""), RuleDeviceClass, "c"},
		{"switch device class", devTopic, devPayload(one(`{"platform":"switch","unique_id":"u","command_topic":"a/set","device_class":"plug"}`), ""), RuleDeviceClass, "c"},
		{"number enum class", devTopic, number(`,"device_class":"enum"`), RuleDeviceClass, "c"},
		{"unit case", devTopic, sensor(`"device_class":"power","unit_of_measurement":"w"`), RuleUnit, "c"},
		{"unit kwh", devTopic, sensor(`"device_class":"energy","unit_of_measurement":"kwh","state_class":"total_increasing"`), RuleUnit, "c"},
		{"unit missing for voltage", devTopic, sensor(`"device_class":"voltage"`), RuleUnit, "c"},
		{"unit on timestamp", devTopic, sensor(`"device_class":"timestamp","unit_of_measurement":"s"`), RuleUnit, "c"},
		{"number unit", devTopic, number(`,"device_class":"current","unit_of_measurement":"amps"`), RuleUnit, "c"},
		{"state class unknown", devTopic, sensor(`"state_class":"sum"`), RuleStateClass, "c"},
		{"power total_increasing", devTopic, sensor(`"device_class":"power","unit_of_measurement":"W","state_class":"total_increasing"`), RuleStateClass, "c"},
		{"energy measurement", devTopic, sensor(`"device_class":"energy","unit_of_measurement":"kWh","state_class":"measurement"`), RuleStateClass, "c"},
		{"measurement_angle unit", devTopic, sensor(`"state_class":"measurement_angle","unit_of_measurement":"deg"`), RuleStateClass, "c"},
		{"options without enum", devTopic, sensor(`"options":["a"]`), RuleEnum, "c"},
		{"enum without options", devTopic, sensor(`"device_class":"enum"`), RuleEnum, "c"},
		{"enum empty options", devTopic, sensor(`"device_class":"enum","options":[]`), RuleEnum, "c"},
		{"enum with unit", devTopic, sensor(`"device_class":"enum","options":["a"],"unit_of_measurement":"A"`), RuleEnum, "c"},
		{"enum with state_class", devTopic, sensor(`"device_class":"enum","options":["a"],"state_class":"measurement"`), RuleEnum, "c"},
		{"last reset without total", devTopic, sensor(`"device_class":"energy","unit_of_measurement":"kWh","state_class":"total_increasing","last_reset_value_template":"{{ x }}"`), RuleLastReset, "c"},
		{"number min >= max", devTopic, number(`,"min":16,"max":6`), RuleNumberRange, "c"},
		{"number min above default max", devTopic, number(`,"min":150`), RuleNumberRange, "c"},
		{"number min not a float", devTopic, number(`,"min":"six"`), RuleType, "c"},
		{"number step too small", devTopic, number(`,"step":0.0001`), RuleNumberStep, "c"},
		{"number mode", devTopic, number(`,"mode":"dial"`), RuleMode, "c"},
		{"text max", devTopic, devPayload(one(`{"platform":"text","unique_id":"u","command_topic":"a/set","max":300}`), ""), RuleTextLength, "c"},
		{"text min > max", devTopic, devPayload(one(`{"platform":"text","unique_id":"u","command_topic":"a/set","min":10,"max":5}`), ""), RuleTextLength, "c"},
		{"sensor config category", devTopic, sensor(`"entity_category":"config"`), RuleEntityCategory, "c"},
		{"binary_sensor config category", devTopic, devPayload(one(`{"platform":"binary_sensor","unique_id":"u","ent_cat":"config"}`), ""), RuleEntityCategory, "c"},
		{"unknown category", devTopic, number(`,"entity_category":"system"`), RuleEntityCategory, "c"},
		{"icon without prefix", devTopic, sensor(`"icon":"ev-station"`), RuleIcon, "c"},
		{"availability both forms", devTopic, sensor(`"availability_topic":"a/av","availability":[{"topic":"b/av"}]`), RuleAvailability, "c"},
		{"availability merged forms", devTopic, devPayload(one(`{"platform":"sensor","unique_id":"u","avty_t":"a/av"}`), `"availability":[{"topic":"b/av"}]`), RuleAvailability, "c"},
		{"availability mode", devTopic, sensor(`"availability":[{"topic":"b/av"}],"availability_mode":"some"`), RuleAvailability, "c"},
		{"availability entry without topic", devTopic, sensor(`"availability":[{"payload_available":"up"}]`), RuleAvailability, "c"},
		{"availability entry extra key", devTopic, sensor(`"availability":[{"topic":"b/av","qos":1}]`), RuleExtraKey, "c"},
		{"availability bad topic", devTopic, sensor(`"availability_topic":"a/+x"`), RuleSubscribeTopic, "c"},
		{"default_entity_id without domain", devTopic, sensor(`"default_entity_id":"garage_power"`), RuleDefaultEntityID, "c"},
		{"default_entity_id other platform", devTopic, sensor(`"default_entity_id":"switch.garage_power"`), RuleDefaultEntityID, "c"},
		{"default_entity_id charset", devTopic, sensor(`"default_entity_id":"sensor.garage power"`), RuleDefaultEntityID, "c"},
		{"default_entity_id double underscore", devTopic, sensor(`"default_entity_id":"sensor.garage__power"`), RuleDefaultEntityID, "c"},
		{"template not a string", devTopic, sensor(`"value_template":["x"]`), RuleTemplate, "c"},
		{"template unbalanced", devTopic, sensor(`"value_template":"{{ value_json.x }"`), RuleTemplate, "c"},
		{"bool option", devTopic, sensor(`"enabled_by_default":"maybe"`), RuleType, "c"},
		{"name a list", devTopic, sensor(`"name":["x"]`), RuleType, "c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Validate(tc.topic, []byte(tc.payload))
			if !hasRule(errs, tc.rule, tc.component) {
				t.Fatalf("want rule %s on component %q, got %v", tc.rule, tc.component, errs)
			}
			for _, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.topic) {
					t.Errorf("error does not name the topic: %v", err)
				}
			}
		})
	}
}

func hasRule(errs []error, rule Rule, component string) bool {
	for _, err := range errs {
		var e *Error
		if errors.As(err, &e) && e.Rule == rule && e.Component == component {
			return true
		}
	}
	return false
}

func TestValidatePrefix(t *testing.T) {
	topic := "ha/disc/device/x/config"
	p := []byte(devPayload(one(okSensor), ""))
	if errs := ValidatePrefix("ha/disc", topic, p); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs := Validate(topic, p); !hasRule(errs, RuleTopic, "") && !hasRule(errs, RuleComponent, "") {
		t.Fatalf("a two-level prefix read as one level should fail, got %v", errs)
	}
	if errs := ValidatePrefix("homeassistant", "other/device/x/config", p); !hasRule(errs, RuleTopic, "") {
		t.Fatalf("want a topic error for a foreign prefix, got %v", errs)
	}
}

func TestLint(t *testing.T) {
	cases := []struct {
		name, payload string
		rule          Rule
	}{
		{"invented abbreviation", devPayload(one(`{"p":"number","uniq_id":"u","cmd_t":"a/set","max_cur":16}`), ""), RuleUnknownKey},
		{"typo", devPayload(one(`{"p":"sensor","uniq_id":"u","unit_of_measurment":"W"}`), ""), RuleUnknownKey},
		{"object_id", devPayload(one(`{"p":"sensor","uniq_id":"u","obj_id":"garage_power"}`), ""), RuleDeprecated},
		{"name repeats device", devPayload(one(`{"p":"sensor","uniq_id":"u","name":"Garage power"}`), ""), RuleName},
		{"component key", devPayload(`{"c d":`+okSensor+`}`, ""), RuleComponentKey},
		{"assumed state", `{"device":{"ids":["x"]},"origin":{"name":"o"},"cmps":{"c":{"p":"switch","uniq_id":"u","cmd_t":"a/set"}}}`, RuleAssumedState},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Lint(devTopic, []byte(tc.payload))
			found := false
			for _, err := range errs {
				var e *Error
				found = found || errors.As(err, &e) && e.Rule == tc.rule
			}
			if !found {
				t.Fatalf("want %s, got %v", tc.rule, errs)
			}
		})
	}
	if errs := Lint(devTopic, []byte(devPayload(one(okSensor), ""))); len(errs) != 0 {
		t.Fatal(errs)
	}
}

func TestCheckSet(t *testing.T) {
	a := devPayload(`{"p":{"p":"sensor","uniq_id":"evb_power","def_ent_id":"sensor.garage_power"},`+
		`"s":{"p":"switch","uniq_id":"evb_power","cmd_t":"x/set","def_ent_id":"switch.garage_power"}}`, "")
	b := devPayload(`{"q":{"p":"sensor","uniq_id":"evb_power","def_ent_id":"sensor.Garage_Power"}}`, "")
	msgs := map[string][]byte{
		"homeassistant/device/a/config": []byte(a),
		"homeassistant/device/b/config": []byte(b),
		"homeassistant/device/c/config": nil, // removals carry no entities
	}
	errs := CheckSet(msgs)
	if !hasRule(errs, RuleDuplicateID, "q") || !hasRule(errs, RuleDuplicateEntity, "q") {
		t.Fatalf("want duplicate unique_id and default_entity_id on b [q], got %v", errs)
	}
	if len(errs) != 2 {
		t.Fatalf("same unique_id on two platforms is fine; want 2 errors, got %v", errs)
	}
	if !strings.Contains(errs[0].Error(), "homeassistant/device/a/config [p]") {
		t.Errorf("error should name the first user: %v", errs[0])
	}
}

func TestAbbreviationTables(t *testing.T) {
	for short, long := range map[string]string{"uniq_id": "unique_id", "p": "platform", "cmps": "components",
		"def_ent_id": "default_entity_id", "o": "origin", "stat_cla": "state_class", "xy_val_tpl": "xy_value_template"} {
		if abbreviations[short] != long {
			t.Errorf("%s: want %s, got %q", short, long, abbreviations[short])
		}
	}
	for short, long := range abbreviations {
		if strings.Contains(long, "_") && !strings.Contains(short, "_") && len(short) > len(long) {
			t.Errorf("pair %s %s looks swapped", short, long)
		}
	}
	if deviceAbbreviations["sn"] != "serial_number" || deviceAbbreviations["mdl_id"] != "model_id" ||
		originAbbreviations["url"] != "support_url" {
		t.Error("device or origin table broken")
	}
	if _, ok := abbreviations["max_cur"]; ok {
		t.Error("invented abbreviation in the table")
	}
}
