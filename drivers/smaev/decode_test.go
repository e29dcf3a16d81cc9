package smaev

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// measCharging is a live reply while charging on three phases, in the
// shape of pysmaev's fixture (tests/fixtures/measurements.json), with a
// channel of another component and one the driver does not read.
const measCharging = `[
 {"channelId":"Measurement.ChaSess.WhIn","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":4200}]},
 {"channelId":"Measurement.Chrg.ModSw","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":4718}]},
 {"channelId":"Measurement.Operation.EVeh.Health","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":307}]},
 {"channelId":"Measurement.Operation.EVeh.ChaStt","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":200113}]},
 {"channelId":"Measurement.Operation.EVeh.ChaStt","componentId":"Other:1","values":[{"time":"2026-06-01T12:00:00.123Z","value":200111}]},
 {"channelId":"Measurement.Metering.GridMs.TotWIn","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":11040}]},
 {"channelId":"Measurement.Metering.GridMs.TotWhIn","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":1234567}]},
 {"channelId":"Measurement.GridMs.A.phsA","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":-16.01}]},
 {"channelId":"Measurement.GridMs.A.phsB","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":-15.98}]},
 {"channelId":"Measurement.GridMs.A.phsC","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.123Z","value":16.0}]}
]`

// paramsFixture is pysmaev's parameters fixture (eco position: no 4718
// among the possible values) with the nameplate added.
const paramsFixture = `[{"componentId":"IGULD:SELF","values":[
 {"channelId":"Parameter.Chrg.ActChaMod","editable":true,"possibleValues":["4719","4720","4721"],"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"4719"},
 {"channelId":"Parameter.Chrg.Plan.DurTmm","editable":true,"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"0"},
 {"channelId":"Parameter.Inverter.AcALim","editable":true,"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"16.00"},
 {"channelId":"Parameter.Chrg.ChrgLok","editable":true,"possibleValues":["1129","1130"],"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"1130"},
 {"channelId":"Parameter.Nameplate.ModelStr","editable":false,"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"EVC22-3AC-10"},
 {"channelId":"Parameter.Nameplate.PkgRev","editable":false,"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"1.2.23.R"},
 {"channelId":"Parameter.Nameplate.SerNum","editable":false,"state":"Confirmed","timestamp":"2023-12-03T04:56:07.123Z","value":"3012345678"}
]}]`

func TestDecodeFixtures(t *testing.T) {
	r, err := decodeReading([]byte(measCharging), []byte(paramsFixture))
	if err != nil {
		t.Fatal(err)
	}
	want := charger.State{
		IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true), CurrentLimit: charger.Ptr(16.0),
		Power: charger.Ptr(11040.0), Currents: []float64{16.01, 15.98, 16.0},
		SessionEnergy: charger.Ptr(4.2), EnergyTotal: charger.Ptr(1234.567),
		Identity: charger.Identity{Brand: "SMA", Model: "EVC22-3AC-10", Serial: "3012345678", Firmware: "1.2.23.R"},
	}
	if got := r.toState(); !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %s\nwant %s", dump(got), dump(want))
	}
	if *r.swtch != switchFast {
		t.Fatalf("switch %v", *r.swtch)
	}
	// An empty parameters list leaves the parameters unknown.
	r, err = decodeReading([]byte(measCharging), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	if st := r.toState(); st.Enabled != nil || st.CurrentLimit != nil || st.Model != "EV Charger" {
		t.Fatalf("no parameters: %s", dump(st))
	}
}

func TestStateMapping(t *testing.T) {
	cases := []struct {
		state         int
		mode, lock    string
		swtch         int
		iec           charger.IECState
		status        charger.Status
		enabled, code string
	}{
		{stateA, modeFast, lockOff, switchFast, charger.IECA, charger.StatusNoVehicle, "true", ""},
		{stateB, modeFast, lockOff, switchFast, charger.IECB, charger.StatusConnected, "true", ""},
		{stateB, modeStop, lockOff, switchFast, charger.IECB, charger.StatusPaused, "false", ""},
		{stateB, modePlanned, lockOff, switchEco, charger.IECB, charger.StatusConnected, "true", ErrorCodeEcoSwitch},
		{stateC, modeOptimised, lockOff, switchFast, charger.IECC, charger.StatusCharging, "true", ""},
		{stateLocked, modeFast, lockOn, switchFast, charger.IECUnknown, charger.StatusPaused, "true", ErrorCodeLocked},
		{stateA, "9999", lockOn, switchFast, charger.IECA, charger.StatusNoVehicle, "", ErrorCodeAppLock},
		{77, modeFast, lockOff, switchFast, charger.IECUnknown, charger.StatusUnknown, "true", "state_77"},
	}
	for _, c := range cases {
		r := &reading{state: &c.state, swtch: &c.swtch, mode: c.mode, appLock: c.lock}
		st := r.toState()
		enabled := ""
		if st.Enabled != nil {
			enabled = map[bool]string{true: "true", false: "false"}[*st.Enabled]
		}
		if st.IEC != c.iec || st.Status != c.status || enabled != c.enabled || st.ErrorCode != c.code {
			t.Errorf("%+v: %s", c, dump(st))
		}
	}
	// Several conditions: the first code, all the texts.
	st, sw := stateLocked, switchEco
	got := (&reading{state: &st, swtch: &sw, mode: modeOptimised, appLock: lockOn}).toState()
	if got.ErrorCode != ErrorCodeLocked || strings.Count(got.ErrorText, "; ") != 2 {
		t.Fatalf("three conditions: %s", dump(got))
	}
}

func TestParseToken(t *testing.T) {
	tok, err := parseToken([]byte(`{"access_token":"a1","token_type":"bearer","expires_in":1800.5,"refresh_token":"r1"}`))
	if err != nil || tok.access != "a1" || tok.refresh != "r1" || tok.lifetime.Seconds() != 1800.5 {
		t.Fatalf("%+v %v", tok, err)
	}
	tok, err = parseToken([]byte(`{"access_token":"a1"}`))
	if err != nil || tok.lifetime != 0 || tok.refresh != "" {
		t.Fatalf("minimal: %+v %v", tok, err)
	}
	if got := oauthError([]byte(`{"error":"invalid_grant","error_description":"bad"}`)); got != `"invalid_grant: bad"` {
		t.Fatalf("oauthError: %s", got)
	}
	if got := oauthError([]byte(`<html>`)); got != `"<html>"` {
		t.Fatalf("oauthError of HTML: %s", got)
	}
}

func checkFinite(t *testing.T, st charger.State) {
	vals := append([]float64{}, st.Currents...)
	for _, p := range []*float64{st.Power, st.SessionEnergy, st.EnergyTotal, st.CurrentLimit} {
		if p != nil {
			vals = append(vals, *p)
		}
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("bad value in %+v", st)
		}
	}
}

func FuzzDecodeReading(f *testing.F) {
	for _, s := range []string{measCharging, paramsFixture, "", "[]", "{}", "null", "[null]", `[{"channelId":null}]`,
		`[{"channelId":"Measurement.Operation.EVeh.ChaStt","values":[{"value":200112}]}]`,
		`[{"channelId":"Measurement.Operation.EVeh.ChaStt","values":[{"value":-0}]},{"channelId":"Measurement.GridMs.A.phsA","values":[{"value":-1e2}]}]`,
		`[{"componentId":"IGULD:SELF","values":[{"channelId":"Parameter.Inverter.AcALim","value":"1e1"}]}]`} {
		f.Add([]byte(s), []byte(s))
	}
	f.Add([]byte(measCharging), []byte(paramsFixture))
	f.Fuzz(func(t *testing.T, meas, params []byte) {
		r, err := decodeReading(meas, params)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		checkFinite(t, r.toState())
	})
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}`,
		"", "{}", `{"access_token":"a b"}`, `{"expires_in":-1}`, `{"access_token":"\u0001"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseToken(body)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		if tok.access == "" || strings.ContainsAny(tok.access+tok.refresh, " \r\n") || tok.lifetime < 0 {
			t.Fatalf("accepted %+v", tok)
		}
		_ = oauthError(body)
	})
}
