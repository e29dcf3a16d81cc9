package openevse

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// replyAPIExample is the /status example of api.yml: older firmware, no
// status, vehicle, voltage or power; sensors 2 and 3 missing (-2560).
const replyAPIExample = `{"mode":"STA","wifi_client_connected":1,"eth_connected":0,"net_connected":1,"srssi":-73,` +
	`"ipaddress":"192.168.1.43","emoncms_connected":1,"packets_sent":22307,"packets_success":22290,` +
	`"mqtt_connected":1,"ohm_hour":"NotConnected","free_heap":203268,"comm_sent":335139,"comm_success":335139,` +
	`"rapi_connected":1,"amp":0,"pilot":32,"temp1":282,"temp2":-2560,"temp3":-2560,"state":254,"elapsed":3473,` +
	`"session_energy":25034,"total_energy":998,"total_day":23,"total_week":68,"total_month":126,"total_year":998,` +
	`"gfcicount":0,"nogndcount":0,"stuckcount":0,"divertmode":1,"solar":390,"grid_ie":0,"charge_rate":7,` +
	`"divert_update":0,"ota_update":0,"time":"2020-05-12T17:53:48Z","offset":"+0000"}`

// replyCharging is newer firmware charging at 15.99 A.
const replyCharging = `{"state":3,"vehicle":1,"status":"active","amp":15990,"voltage":239.5,"power":3829.6,` +
	`"pilot":16,"max_current":32,"session_energy":1534.5,"total_energy":1236.101,"temp":312,"temp_max":318,` +
	`"temp1":312,"temp2":false,"temp3":false,"srssi":-61,"manual_override":0,"macaddress":"24:0A:C4:12:A7:D4",` +
	`"config_version":3,"claims_version":7,"override_version":0}`

func TestParseStatus(t *testing.T) {
	cfg := &config{version: "5.1.4", firmware: "8.2.3", buildenv: "openevse_wifi_v1"}
	cases := []struct {
		name, body string
		cfg        *config
		want       charger.State
	}{
		{"api.yml example", replyAPIExample, nil, charger.State{
			IEC: charger.IECA, Status: charger.StatusNoVehicle, CurrentLimit: charger.Ptr(32.0),
			Currents: []float64{0}, SessionEnergy: charger.Ptr(25.034), EnergyTotal: charger.Ptr(998.0),
			Temperature: charger.Ptr(28.2), RSSI: charger.Ptr(-73.0),
			Identity: charger.Identity{Brand: "OpenEVSE", Model: "OpenEVSE"},
		}},
		{"charging", replyCharging, cfg, charger.State{
			IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
			CurrentLimit: charger.Ptr(16.0), Power: charger.Ptr(3829.6), Currents: []float64{15.99},
			Voltages: []float64{239.5}, Phases: charger.Ptr(1), SessionEnergy: charger.Ptr(1.5345),
			EnergyTotal: charger.Ptr(1236.101), Temperature: charger.Ptr(31.2), RSSI: charger.Ptr(-61.0),
			Identity: charger.Identity{Brand: "OpenEVSE", Model: "OpenEVSE (openevse_wifi_v1)",
				Serial: "24:0A:C4:12:A7:D4", Firmware: "5.1.4 (EVSE 8.2.3)"},
		}},
	}
	for _, c := range cases {
		s, err := parseStatus([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := s.toState(c.cfg, nil); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, dump(got), dump(c.want))
		}
	}
}

func TestStateMapping(t *testing.T) {
	three := &config{threePhase: true}
	cases := []struct {
		body    string
		iec     charger.IECState
		status  charger.Status
		enabled string // "", "true", "false"
		code    string
	}{
		{`{"state":0,"amp":0}`, charger.IECUnknown, charger.StatusUnknown, "", ""},
		{`{"state":1,"amp":0,"status":"active"}`, charger.IECA, charger.StatusNoVehicle, "true", ""},
		{`{"state":2,"amp":0,"vehicle":1}`, charger.IECB, charger.StatusConnected, "", ""},
		{`{"state":4,"amp":9000}`, charger.IECD, charger.StatusCharging, "", ""},
		{`{"state":254,"amp":0,"vehicle":1,"status":"disabled"}`, charger.IECB, charger.StatusPaused, "false", ""},
		{`{"state":255,"amp":0,"vehicle":0,"status":"disabled"}`, charger.IECA, charger.StatusNoVehicle, "false", ""},
		{`{"state":8,"amp":0,"status":"none"}`, charger.IECF, charger.StatusError, "", "8"},
		{`{"state":11,"amp":0}`, charger.IECF, charger.StatusError, "", "11"},
		{`{"state":77,"amp":0}`, charger.IECUnknown, charger.StatusUnknown, "", ""},
		{`{"state":2,"amp":0,"manual_override":1}`, charger.IECB, charger.StatusConnected, "", ErrorCodeOverride},
	}
	for _, c := range cases {
		s, err := parseStatus([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		st := s.toState(three, nil)
		enabled := ""
		if st.Enabled != nil {
			enabled = map[bool]string{true: "true", false: "false"}[*st.Enabled]
		}
		if st.IEC != c.iec || st.Status != c.status || enabled != c.enabled || st.ErrorCode != c.code {
			t.Errorf("%s: iec %q status %s enabled %q code %q", c.body, st.IEC, st.Status, enabled, st.ErrorCode)
		}
		if len(st.Currents) != 3 || *st.Phases != 3 {
			t.Errorf("%s: three-phase config gave %v currents, phases %v", c.body, st.Currents, st.Phases)
		}
	}
	// Power without a power key: amps × volts × phases.
	s, _ := parseStatus([]byte(`{"state":3,"amp":10000,"voltage":230}`))
	if p := s.toState(three, nil).Power; p == nil || *p != 6900 {
		t.Errorf("derived power %v, want 6900", p)
	}
	// Legacy energy keys.
	s, _ = parseStatus([]byte(`{"state":1,"amp":0,"wattsec":7200,"watthour":5000}`))
	if st := s.toState(nil, nil); *st.SessionEnergy != 0.002 || *st.EnergyTotal != 5 {
		t.Errorf("legacy energy: session %v total %v", *st.SessionEnergy, *st.EnergyTotal)
	}
}

func TestParseStatusRejects(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(replyCharging, old, new, 1) }
	cases := []struct{ name, body, want string }{
		{"empty", "", "empty reply"},
		{"html", "<html></html>", "HTML"},
		{"array", "[1]", "not a JSON object"},
		{"truncated", replyCharging[:60], "bad JSON"},
		{"no state", `{"amp":0}`, `missing key "state"`},
		{"no amp", `{"state":1}`, `missing key "amp"`},
		{"state text", r(`"state":3`, `"state":"3"`), `"state": want a number`},
		{"state 300", r(`"state":3`, `"state":300`), `"state": 300 outside`},
		{"amp huge", r(`"amp":15990`, `"amp":9e9`), `"amp"`},
		{"volts", r(`"voltage":239.5`, `"voltage":23950`), `"voltage"`},
		{"pilot frac", r(`"pilot":16`, `"pilot":16.5`), `"pilot": 16.5 is not an integer`},
		{"temp string", r(`"temp":312`, `"temp":"hot"`), `"temp": want a number`},
		{"temp true", r(`"temp":312`, `"temp":true`), `"temp": want a number`},
		{"rssi", r(`"srssi":-61`, `"srssi":61`), `"srssi"`},
		{"energy", r(`"total_energy":1236.101`, `"total_energy":-1`), `"total_energy"`},
		{"status number", r(`"status":"active"`, `"status":1`), `"status": want a string`},
		{"mac control", r(`"macaddress":"24:0A:C4:12:A7:D4"`, `"macaddress":"\u0000"`), `implausible string`},
	}
	for _, c := range cases {
		_, err := parseStatus([]byte(c.body))
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.name, err, c.want)
		}
	}
}

func TestParseProps(t *testing.T) {
	ten := 10
	cases := []struct {
		body string
		want *props
		err  string
	}{
		{`{}`, nil, ""},
		{`{"msg":"Not found"}`, nil, ""},
		{`{"auto_release":true}`, nil, ""},
		{`{"state":"disabled","auto_release":true}`, &props{State: "disabled", AutoRelease: charger.Ptr(true)}, ""},
		{`{"priority":500,"charge_current":10,"auto_release":false}`,
			&props{ChargeCurrent: &ten, AutoRelease: charger.Ptr(false)}, ""},
		{`{"state":"paused"}`, nil, `unknown state "paused"`},
		{`{"charge_current":"10"}`, nil, `"charge_current": want a number`},
		{`[]`, nil, "not a JSON object"},
	}
	for _, c := range cases {
		got, err := parseProps([]byte(c.body))
		if c.err != "" {
			if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.body, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.body, got, err, c.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]byte(`{"firmware":"D7.1.2","protocol":"-","buildenv":"openevse_esp-wrover-kit",` +
		`"version":"4.1.0.dev","max_current_soft":32,"min_current_hard":6,"max_current_hard":32,` +
		`"hostname":"openevse-a7d4","www_username":"","is_threephase":true}`))
	if err != nil || c.firmware != "D7.1.2" || *c.maxSoft != 32 || *c.minHard != 6 || !c.threePhase {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseConfig([]byte(`{"max_current_soft":"32"}`)); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("string current: %v", err)
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{replyAPIExample, replyCharging, "", "{}", `{"state":null,"amp":null}`,
		`{"state":254,"amp":-1000,"vehicle":1,"temp":false,"temp1":-2560,"temp4":1999,"manual_override":1}`,
		`{"state":3,"amp":1e5,"voltage":0,"power":-5,"wattsec":1,"watthour":1e12}`} {
		f.Add([]byte(s))
	}
	three := &config{threePhase: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseStatus(body)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		for _, c := range []*config{nil, three} {
			st := s.toState(c, &props{State: "active"})
			vals := append(append([]float64{}, st.Currents...), st.Voltages...)
			for _, p := range []*float64{st.Power, st.SessionEnergy, st.EnergyTotal, st.Temperature, st.RSSI, st.CurrentLimit} {
				if p != nil {
					vals = append(vals, *p)
				}
			}
			for _, v := range vals {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite value in %+v", st)
				}
			}
			if (st.Power != nil && *st.Power < 0) || len(st.Currents) == 0 || st.Status == "" {
				t.Fatalf("implausible state %+v", st)
			}
		}
	})
}

func FuzzParseProps(f *testing.F) {
	for _, s := range []string{`{}`, `{"state":"active","charge_current":16,"max_current":32,"auto_release":true}`,
		`{"msg":"Not found"}`, `{"state":"clear"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseProps(body)
		if err != nil && !errors.Is(err, charger.ErrBadReply) {
			t.Fatalf("error %v is not ErrBadReply", err)
		}
		if p != nil && p.describe() == "nothing" {
			t.Fatalf("empty props returned as an override: %+v", p)
		}
		if _, err := parseConfig(body); err != nil && !errors.Is(err, charger.ErrBadReply) {
			t.Fatalf("config error %v is not ErrBadReply", err)
		}
	})
}
