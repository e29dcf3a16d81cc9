package goe

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// replyCharging is a real-looking filtered reply of a V3 charging on 3 phases.
const replyCharging = `{"car":2,"alw":true,"frc":0,"amp":10,"ama":16,` +
	`"nrg":[229,231,230,1,9.87,9.91,9.85,2260,2289,2265,0,6814.5,99,99,99,0],` +
	`"wh":1534.25,"eto":1236101,"err":0,"psm":0,"pnp":3,"fwv":"059.4","sse":"072246",` +
	`"typ":"go-eCharger","var":11,"rssi":-61,"tma":[26.1,24.9]}`

// replyIdle is an idle box with optional keys missing or null.
const replyIdle = `{"car":1,"alw":false,"frc":1,"amp":16,` +
	`"nrg":[230,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"wh":0,"eto":0,"err":null,"rssi":null}`

func TestParseStatusCharging(t *testing.T) {
	s, err := parseStatus([]byte(replyCharging))
	if err != nil {
		t.Fatal(err)
	}
	st := s.state()
	checks := []struct {
		name      string
		got, want any
	}{
		{"iec", st.IEC, charger.IECC},
		{"status", st.Status, charger.StatusCharging},
		{"enabled", *st.Enabled, true},
		{"current limit", *st.CurrentLimit, 10.0},
		{"power", *st.Power, 6814.5},
		{"currents", st.Currents, []float64{9.87, 9.91, 9.85}},
		{"voltages", st.Voltages, []float64{229, 231, 230}},
		{"phases", *st.Phases, 3},
		{"session", *st.SessionEnergy, 1.53425},
		{"total", *st.EnergyTotal, 1236.101},
		{"rssi", *st.RSSI, -61.0},
		{"temperature", *st.Temperature, 26.1},
		{"identity", st.Identity, charger.Identity{Brand: "go-e", Model: "go-eCharger 11 kW", Serial: "072246", Firmware: "059.4"}},
		{"error", st.ErrorCode + st.ErrorText, ""},
		{"ama", *s.ama, 16},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseStatusIdleOptionalKeys(t *testing.T) {
	s, err := parseStatus([]byte(replyIdle))
	if err != nil {
		t.Fatal(err)
	}
	st := s.state()
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Errorf("iec/status = %s/%s, want A/no_vehicle", st.IEC, st.Status)
	}
	if *st.Enabled {
		t.Error("frc=1 must read as disabled")
	}
	if st.RSSI != nil || st.Phases != nil || st.Temperature != nil || s.ama != nil {
		t.Errorf("absent keys must stay nil: rssi %v phases %v temp %v ama %v", st.RSSI, st.Phases, st.Temperature, s.ama)
	}
	if st.Model != "" || st.Serial != "" || st.Brand != "go-e" {
		t.Errorf("identity = %+v", st.Identity)
	}
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		car, frc  string
		alw       bool
		iec       charger.IECState
		status    charger.Status
		enabled   bool
		psm, pnp  string
		phases    int // 0: nil
		errCode   string
		wantError string
	}{
		{car: "1", frc: "0", alw: true, iec: charger.IECA, status: charger.StatusNoVehicle, enabled: true, psm: "0", pnp: "3", phases: 3},
		{car: "2", frc: "2", alw: true, iec: charger.IECC, status: charger.StatusCharging, enabled: true, psm: "1", pnp: "3", phases: 1},
		{car: "3", frc: "0", alw: true, iec: charger.IECB, status: charger.StatusPaused, enabled: true, psm: "2", pnp: "1", phases: 3},
		{car: "3", frc: "1", alw: false, iec: charger.IECB, status: charger.StatusPaused, enabled: false, psm: "0", pnp: "1", phases: 1},
		{car: "3", frc: "0", alw: false, iec: charger.IECB, status: charger.StatusConnected, enabled: false, psm: "0", pnp: "2"},
		{car: "4", frc: "0", alw: true, iec: charger.IECB, status: charger.StatusComplete, enabled: true, psm: "null", pnp: "null"},
		{car: "5", frc: "0", alw: false, iec: charger.IECF, status: charger.StatusError, enabled: false, psm: "0", pnp: "0"},
		{car: "0", frc: "0", alw: false, iec: charger.IECUnknown, status: charger.StatusError, enabled: false, psm: "0", pnp: "3", phases: 3},
		{car: "null", frc: "2", alw: false, iec: charger.IECUnknown, status: charger.StatusError, enabled: true, psm: "0", pnp: "3", phases: 3},
		{car: "2", frc: "0", alw: true, iec: charger.IECC, status: charger.StatusError, enabled: true, psm: "2", pnp: "3", phases: 3, errCode: "5", wantError: "Overamp: overcurrent"},
		{car: "3", frc: "0", alw: false, iec: charger.IECB, status: charger.StatusError, enabled: false, psm: "2", pnp: "3", phases: 3, errCode: "42", wantError: "unknown error 42"},
	}
	for _, c := range cases {
		errKey := "0"
		if c.errCode != "" {
			errKey = c.errCode
		}
		alw := "false"
		if c.alw {
			alw = "true"
		}
		body := `{"car":` + c.car + `,"alw":` + alw + `,"frc":` + c.frc + `,"amp":6,"nrg":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],` +
			`"wh":0,"eto":5,"err":` + errKey + `,"psm":` + c.psm + `,"pnp":` + c.pnp + `}`
		s, err := parseStatus([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		st := s.state()
		var phases int
		if st.Phases != nil {
			phases = *st.Phases
		}
		if st.IEC != c.iec || st.Status != c.status || *st.Enabled != c.enabled || phases != c.phases ||
			st.ErrorCode != c.errCode || st.ErrorText != c.wantError {
			t.Errorf("%s:\n got iec %q status %s enabled %t phases %d err %q %q\nwant iec %q status %s enabled %t phases %d err %q %q",
				body, st.IEC, st.Status, *st.Enabled, phases, st.ErrorCode, st.ErrorText,
				c.iec, c.status, c.enabled, c.phases, c.errCode, c.wantError)
		}
	}
}

func TestParseStatusRejects(t *testing.T) {
	good := strings.TrimSuffix(replyCharging, "}")
	cases := []struct{ name, body, want string }{
		{"empty", "", "empty reply"},
		{"blank", " \n\t", "empty reply"},
		{"html", "<html><body>Nothing matches the given URI</body></html>", "HTML"},
		{"array", `[1,2,3]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"text", `couldn't take api lock in 3s, please try again later`, "not a JSON object"},
		{"truncated", replyCharging[:40], "bad JSON"},
		{"missing", `{"car":1,"alw":true,"wh":0}`, "missing keys frc,amp,nrg,eto"},
		{"string amp", strings.Replace(replyCharging, `"amp":10`, `"amp":"10"`, 1), `"amp": want a number, got string`},
		{"fraction amp", strings.Replace(replyCharging, `"amp":10`, `"amp":10.5`, 1), `"amp": 10.5 is not an integer`},
		{"absurd amp", strings.Replace(replyCharging, `"amp":10`, `"amp":250`, 1), `"amp": 250 outside 0..80`},
		{"car 9", strings.Replace(replyCharging, `"car":2`, `"car":9`, 1), `"car": 9 outside 0..5`},
		{"alw number", strings.Replace(replyCharging, `"alw":true`, `"alw":1`, 1), `"alw": want a bool, got number`},
		{"nrg short", strings.Replace(replyCharging, `,99,99,99,0]`, `,99,99,99]`, 1), `"nrg": array of 15 values`},
		{"nrg not array", strings.Replace(replyCharging, `"nrg":[`, `"nrg":{"a":[`, 1), ""},
		{"nrg volts", strings.Replace(replyCharging, `[229,`, `[22900,`, 1), `voltage [0] = 22900 V`},
		{"nrg amps", strings.Replace(replyCharging, `,9.87,`, `,987,`, 1), `current [4] = 987 A`},
		{"nrg nan", strings.Replace(replyCharging, `,9.87,`, `,"NaN",`, 1), `[4]: want a number, got string`},
		{"huge", strings.Replace(replyCharging, `"wh":1534.25`, `"wh":1e999`, 1), `bad`},
		{"negative wh", strings.Replace(replyCharging, `"wh":1534.25`, `"wh":-3`, 1), `"wh": -3 outside`},
		{"eto string", strings.Replace(replyCharging, `"eto":1236101`, `"eto":"1236101"`, 1), `"eto": want a number`},
		{"rssi positive", strings.Replace(replyCharging, `"rssi":-61`, `"rssi":61`, 1), `"rssi"`},
		{"serial object", strings.Replace(replyCharging, `"sse":"072246"`, `"sse":{}`, 1), `"sse": want a string, got object`},
		{"serial control", strings.Replace(replyCharging, `"sse":"072246"`, `"sse":"07\u0000"`, 1), `"sse": implausible string`},
		{"trailing", good + `}}`, "bad JSON"},
	}
	for _, c := range cases {
		_, err := parseStatus([]byte(c.body))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("%s: %v is not ErrBadReply", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
	}
}

func TestParseSetReply(t *testing.T) {
	cases := []struct {
		body    string
		wantErr error
		want    string
	}{
		{`{"amp":true}`, nil, ""},
		{` {"frc":true,"amp":true} `, nil, ""},
		{`{"amp":"amp: failed: Value 5 exceeds range 6 to 32 (5)"}`, charger.ErrRejected, "exceeds range"},
		{`{"amp":false}`, charger.ErrRejected, "amp: false"},
		{`{"frc":true}`, charger.ErrBadReply, `no result for "amp"`},
		{`{"amp":1}`, charger.ErrBadReply, "unexpected result"},
		{`{"amp":null}`, charger.ErrBadReply, "unexpected result"},
		{``, charger.ErrBadReply, "empty reply"},
		{`true`, charger.ErrBadReply, "not a JSON object"},
		{`{"amp":tru`, charger.ErrBadReply, "not a JSON object"},
	}
	for _, c := range cases {
		err := parseSetReply([]byte(c.body), "amp")
		if c.wantErr == nil {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %v mentioning %q", c.body, err, c.wantErr, c.want)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{replyCharging, replyIdle, "", "{}", "null", "<html>", `{"car":null}`,
		`{"car":3,"alw":true,"frc":2,"amp":32,"ama":32,"nrg":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"wh":0,"eto":0,"tma":[]}`,
		`{"car":1e308,"alw":true,"frc":-0,"amp":6,"nrg":[1e-320,0,0,0,0,0,0,0,0,0,0,-1,0,0,0,0],"wh":0,"eto":0}`,
		`{"car":2,"car":"x"}`, `{"nrg":[[[[[[[]]]]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseStatus(body)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		st := s.state()
		for _, v := range append(append([]float64{*st.Power, *st.SessionEnergy, *st.EnergyTotal, *st.CurrentLimit},
			st.Currents...), st.Voltages...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value in %+v", st)
			}
		}
		if len(st.Currents) != 3 || len(st.Voltages) != 3 {
			t.Fatalf("want 3 phases, got %d currents %d voltages", len(st.Currents), len(st.Voltages))
		}
		if !validStatus(st.Status) {
			t.Fatalf("status %q is not a known status", st.Status)
		}
	})
}

func validStatus(s charger.Status) bool {
	for _, v := range charger.Statuses {
		if v == s {
			return true
		}
	}
	return false
}
