package hatest_test

import (
	"math"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/ha"
	"github.com/evbridge/evbridge/ha/hatest"
)

// chargerInfos spans capabilities, identities and bad inputs the builder
// must repair rather than let HA reject the device.
var chargerInfos = []ha.ChargerInfo{
	{ID: "garage", Name: "Garage", Address: "192.168.1.20", WebURL: "/",
		Identity:      charger.Identity{Brand: "go-e", Model: "Gemini flex 22", Serial: "012345", Firmware: "56.2"},
		CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 32, CurrentStep: 1, CanEnable: true, CanSwitchPhases: true,
		Modes: []string{"off", "now", "minpv", "pv"}},
	{ID: "planner", CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 16, CurrentStep: 1, CanEnable: true,
		Modes: []string{"off", "now", "minpv", "pv", "plan"}, Plan: true, CanReset: true},
	{ID: "carport"}, // no capabilities, empty identity
	{ID: "drive_way-2", Identity: charger.Identity{Serial: "only-serial"}, CanEnable: true},
	{ID: "alfen_ACE0001", Name: "Einfahrt – links", WebURL: "https://10.0.0.9:8443/ui",
		CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 16, CurrentStep: 0.1, Modes: []string{"pv", "", "pv", "now"}},
	{ID: "bad_range", CanSetCurrent: true, MinCurrent: math.NaN(), MaxCurrent: 0, CurrentStep: 0},
	{ID: "inverted", CanSetCurrent: true, MinCurrent: 20, MaxCurrent: 10, CurrentStep: -1, WebURL: "javascript:alert(1)"},
	{ID: "inf", CanSetCurrent: true, MinCurrent: 6, MaxCurrent: math.Inf(1), CurrentStep: 0.0001, Address: "wb.local", WebURL: "x"},
	{ID: "Mixed.Case id", CanSwitchPhases: true},
}

var optionSets = []ha.Options{
	{Version: "1.4.0", SupportURL: "https://github.com/evbridge/evbridge"},
	{},
	{Prefix: "hass", BaseTopic: "home/evbridge", BridgeID: "Bridge 2", Version: "dev", SupportURL: "not a url",
		WebURL: "http://evbridge.local:8080/"},
	{Version: "2.0.0", Site: true},
}

// TestHAPayloadsValid: everything package ha builds passes Validate, Lint
// and, per bridge, CheckSet.
func TestHAPayloadsValid(t *testing.T) {
	for _, o := range optionSets {
		msgs := map[string][]byte{}
		all := []ha.Message{ha.BridgeDevice(o)}
		for _, c := range chargerInfos {
			all = append(all, ha.ChargerDevice(o, c))
		}
		for _, m := range all {
			if !m.Retain || m.QoS != 1 {
				t.Errorf("%s: want retained QoS 1, got retain %v qos %d", m.Topic, m.Retain, m.QoS)
			}
			for _, err := range hatest.Lint(m.Topic, m.Payload) {
				t.Error(err)
			}
			if _, dup := msgs[m.Topic]; dup {
				t.Errorf("two devices on %s", m.Topic)
			}
			msgs[m.Topic] = m.Payload
		}
		for _, err := range hatest.CheckSet(msgs) {
			t.Error(err)
		}
	}
}

// TestHARemovalValid: removals and MergeRemovals output are valid too.
func TestHARemovalValid(t *testing.T) {
	o := ha.Options{}
	rm := ha.Removal(o, ha.ChargerObjectID(o, "garage"))
	if errs := hatest.Validate(rm.Topic, rm.Payload); len(errs) != 0 {
		t.Fatal(errs)
	}
	prev := ha.ChargerDevice(o, chargerInfos[0])
	next := ha.MergeRemovals(prev.Payload, ha.ChargerDevice(o, ha.ChargerInfo{ID: "garage"}))
	for _, err := range hatest.Lint(next.Topic, next.Payload) {
		t.Error(err)
	}
}
