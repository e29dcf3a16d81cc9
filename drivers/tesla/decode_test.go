package tesla

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// vitalsExample is the vitals reply in the open client's tests: a car
// connected, contactor open, sensor noise on the currents.
const vitalsExample = `{"contactor_closed":false,"vehicle_connected":true,"session_s":0,"grid_v":228.8,` +
	`"grid_hz":50.003,"vehicle_current_a":0.5,"currentA_a":0.4,"currentB_a":0.35,"currentC_a":0.3,` +
	`"currentN_a":0.6,"voltageA_v":230.1,"voltageB_v":230.2,"voltageC_v":230.3,"relay_coil_v":11.9,` +
	`"pcba_temp_c":13.8,"handle_temp_c":9.9,"mcu_temp_c":20.8,"uptime_s":35779,"input_thermopile_uv":-151,` +
	`"prox_v":0.01,"pilot_high_v":11.9,"pilot_low_v":11.99,"session_energy_wh":22128.301,"config_status":5,` +
	`"evse_state":1,"current_alerts":["alert1","alert2"]}`

const vitalsCharging = `{"contactor_closed":true,"vehicle_connected":true,"grid_v":239.1,"vehicle_current_a":31.8,` +
	`"currentA_a":31.8,"currentB_a":31.9,"currentC_a":0.2,"voltageA_v":120.1,"voltageB_v":119.8,"voltageC_v":0.4,` +
	`"pcba_temp_c":41.2,"handle_temp_c":35.5,"mcu_temp_c":47.0,"session_energy_wh":1534.25,"evse_state":11,` +
	`"current_alerts":[],"evse_not_ready_reasons":[]}`

func TestVitalsExample(t *testing.T) {
	v, err := parseVitals([]byte(vitalsExample))
	if err != nil {
		t.Fatal(err)
	}
	ver := &version{firmware: "21.29.1+g4152353e50f744", part: "1529455-02-D", serial: "ACB12345678901"}
	got := v.state(WiringAuto, ver, charger.Ptr(386204.0), charger.Ptr(-68.0))
	want := charger.State{
		IEC: charger.IECB, Status: charger.StatusConnected, Power: charger.Ptr(0.0),
		Currents: []float64{0, 0, 0}, Voltages: []float64{230.1, 230.2, 230.3}, Phases: charger.Ptr(3),
		SessionEnergy: charger.Ptr(22.128301), EnergyTotal: charger.Ptr(386.204), RSSI: charger.Ptr(-68.0),
		Temperature: charger.Ptr(20.8), ErrorText: "alerts: alert1, alert2; " + ReadOnlyText,
		Identity: charger.Identity{Brand: "Tesla", Model: "Wall Connector Gen 3 1529455-02-D",
			Serial: "ACB12345678901", Firmware: "21.29.1+g4152353e50f744"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %s\nwant %s", dump(got), dump(want))
	}
}

// A North American split-phase unit: legs A and B at 120 V, grid_v 240.
func TestWiring(t *testing.T) {
	v, err := parseVitals([]byte(vitalsCharging))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		wiring   string
		power    float64
		currents []float64
		phases   int
	}{
		{WiringAuto, math.Round(31.8*239.1*10) / 10, []float64{31.8}, 1},
		{WiringSinglePhase, math.Round(31.8*239.1*10) / 10, []float64{31.8}, 1},
		{WiringThreePhase, math.Round((31.8*120.1+31.9*119.8+0.2*0.4)*10) / 10, []float64{31.8, 31.9, 0.2}, 3},
	}
	for _, c := range cases {
		st := v.state(c.wiring, nil, nil, nil)
		if *st.Power != c.power || !reflect.DeepEqual(st.Currents, c.currents) || *st.Phases != c.phases {
			t.Errorf("%s: power %v currents %v phases %d, want %v %v %d", c.wiring, *st.Power, st.Currents,
				*st.Phases, c.power, c.currents, c.phases)
		}
		if st.Status != charger.StatusCharging || st.Temperature == nil || *st.Temperature != 47 || st.EnergyTotal != nil {
			t.Errorf("%s: %s", c.wiring, dump(st))
		}
	}
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		contactor, vehicle bool
		state              int
		iec                charger.IECState
		status             charger.Status
	}{
		{false, false, 1, charger.IECA, charger.StatusNoVehicle},
		{false, false, 0, charger.IECUnknown, charger.StatusUnknown},
		{false, true, 2, charger.IECB, charger.StatusConnected},
		{false, true, 9, charger.IECB, charger.StatusConnected},
		{false, true, 8, charger.IECB, charger.StatusComplete},
		{true, true, 11, charger.IECC, charger.StatusCharging},
		{true, true, 10, charger.IECC, charger.StatusCharging},
		{false, true, 7, charger.IECB, charger.StatusError},
	}
	for _, c := range cases {
		v := &vitals{contactor: c.contactor, vehicle: c.vehicle, evseState: &c.state}
		st := v.state(WiringAuto, nil, nil, nil)
		if st.IEC != c.iec || st.Status != c.status || !strings.HasSuffix(st.ErrorText, ReadOnlyText) {
			t.Errorf("%+v: %q %s %q", c, st.IEC, st.Status, st.ErrorText)
		}
	}
}

func TestRepair(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`:                         `{"a":1}`,
		`{"a": nan ,"b":NaN}`:             `{"a": null ,"b":null}`,
		`{"a":-nan,"b":inf}`:              `{"a":null,"b":null}`,
		`{"s":"nan, inf","a":nan}`:        `{"s":"nan, inf","a":null}`,
		`{"s":"q\"nan","a":1`:             `{"s":"q\"nan","a":1}`,
		`{"a":1,"b":[1,2`:                 `{"a":1,"b":[1,2`, // more than a brace missing: left alone
		`{"a":nano}`:                      `{"a":nano}`,
		`{"contactor_cycles":450,"x":nan`: `{"contactor_cycles":450,"x":null}`,
	}
	for in, want := range cases {
		if got := string(repair([]byte(in))); got != want {
			t.Errorf("repair(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(vitalsCharging, old, new, 1) }
	cases := []struct{ name, body, want string }{
		{"empty", "", "empty reply"},
		{"html", "<html/>", "HTML"},
		{"array", "[]", "not a JSON object"},
		{"truncated", vitalsCharging[:70], "bad JSON"},
		{"no contactor", r(`"contactor_closed":true,`, ""), `missing key "contactor_closed"`},
		{"no session", r(`"session_energy_wh":1534.25,`, ""), `missing key "session_energy_wh"`},
		{"contactor number", r(`"contactor_closed":true`, `"contactor_closed":1`), `"contactor_closed": want a bool`},
		{"volts", r(`"grid_v":239.1`, `"grid_v":2391`), `"grid_v"`},
		{"amps text", r(`"currentA_a":31.8`, `"currentA_a":"31.8"`), `"currentA_a"`},
		{"state frac", r(`"evse_state":11`, `"evse_state":1.5`), `"evse_state": want an integer`},
		{"alerts", r(`"current_alerts":[]`, `"current_alerts":[1]`), `"current_alerts": want a list of strings`},
		{"temp", r(`"mcu_temp_c":47.0`, `"mcu_temp_c":470`), `"mcu_temp_c"`},
	}
	for _, c := range cases {
		_, err := parseVitals([]byte(c.body))
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := parseVersion([]byte(`{"firmware_version":"1"}`)); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("version without serial: %v", err)
	}
	if _, err := parseLifetime([]byte(`{"alert_count":nan}`)); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("lifetime without energy_wh: %v", err)
	}
	if wh, err := parseLifetime([]byte(`{"energy_wh": nan }`)); err != nil || wh != nil {
		t.Errorf("lifetime energy nan: %v %v, want unknown", wh, err)
	}
	if _, err := parseWifi([]byte(`{"wifi_rssi":12}`)); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("positive rssi: %v", err)
	}
}

func FuzzParseVitals(f *testing.F) {
	for _, s := range []string{vitalsExample, vitalsCharging, "", "{}", `{"contactor_closed":nan}`,
		`{"contactor_closed":true,"vehicle_connected":false,"session_energy_wh":nan,"currentA_a":-200`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) (*float64, error){parseLifetime, parseWifi} {
			if v, err := parse(body); err != nil && !errors.Is(err, charger.ErrBadReply) || v != nil && math.IsNaN(*v) {
				t.Fatalf("lifetime/wifi: %v %v", v, err)
			}
		}
		if _, err := parseVersion(body); err != nil && !errors.Is(err, charger.ErrBadReply) {
			t.Fatalf("version error %v is not ErrBadReply", err)
		}
		v, err := parseVitals(body)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		for _, w := range []string{WiringAuto, WiringThreePhase, WiringSinglePhase} {
			st := v.state(w, nil, nil, nil)
			vals := append(append([]float64{*st.Power, *st.SessionEnergy}, st.Currents...), st.Voltages...)
			for _, x := range vals {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					t.Fatalf("implausible value in %+v", st)
				}
			}
			if !strings.Contains(st.ErrorText, ReadOnlyText) || st.Phases == nil {
				t.Fatalf("state %+v", st)
			}
		}
	})
}
