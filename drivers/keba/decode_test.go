package keba

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Replies shaped like the guides' examples: the P20 guide's report 2 ends
// with a comma before the brace, and its product name is padded.
const (
	reply1 = `{"ID": "1","Product": "KC-P30-EC240422-E00  ","Serial": "17012345",` +
		`"Firmware":"P30 v 3.10.57 (221215-094006)","COM-module": 0,"Sec": 123}`
	reply2 = `{"ID": "2","State": 3,"Error1": 0,"Error2": 0,"Plug": 7,"AuthON": 0,"Authreq": 0,` +
		`"Enable sys": 1,"Enable user": 1,"Max curr": 10000,"Max curr %": 167,"Curr HW": 16000,` +
		`"Curr user": 10000,"Curr FS": 6000,"Tmo FS": 30,"Curr timer": 0,"Tmo CT": 0,"Setenergy": 0,` +
		`"Output": 0,"Input": 0,"Serial": "17012345","Sec": 4294967296,}`
	reply3 = `{"ID": "3","U1": 231,"U2": 229,"U3": 230,"I1": 9870,"I2": 9910,"I3": 9850,` +
		`"P": 6814500,"PF": 993,"E pres": 15342,"E total": 12361010,"Serial": "17012345","Sec": 123}`
)

func mustReports(t *testing.T) (*report1, *report2, *report3) {
	t.Helper()
	g1, g2, g3 := classify([]byte(reply1)), classify([]byte(reply2)), classify([]byte(reply3))
	for i, g := range []datagram{g1, g2, g3} {
		if g.kind != kindReport || g.id != i+1 {
			t.Fatalf("reply %d classified as kind %d id %d: %v", i+1, g.kind, g.id, g.err)
		}
	}
	r1, err := parseReport1(g1.fields)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := parseReport2(g2.fields)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := parseReport3(g3.fields)
	if err != nil {
		t.Fatal(err)
	}
	return r1, r2, r3
}

func TestStateFromReports(t *testing.T) {
	r1, r2, r3 := mustReports(t)
	st := state(r1, r2, r3)
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
		{"voltages", st.Voltages, []float64{231, 229, 230}},
		{"phases", *st.Phases, 3},
		{"session", *st.SessionEnergy, 1.5342},
		{"total", *st.EnergyTotal, 1236.101},
		{"identity", st.Identity, charger.Identity{Brand: "KEBA", Model: "KC-P30-EC240422-E00",
			Serial: "17012345", Firmware: "P30 v 3.10.57 (221215-094006)"}},
		{"error", st.ErrorCode + st.ErrorText, ""},
		{"rssi, temperature", st.RSSI == nil && st.Temperature == nil, true},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []float64:
		y := b.([]float64)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		state, plug, auth, i1 int
		sys, user             bool
		iec                   charger.IECState
		status                charger.Status
		enabled               bool
		phases                int // 0: nil
	}{
		{state: 1, plug: 3, sys: true, user: true, iec: charger.IECA, status: charger.StatusNoVehicle, enabled: true},
		{state: 1, plug: 1, iec: charger.IECA, status: charger.StatusNoVehicle},
		{state: 2, plug: 7, sys: true, user: true, iec: charger.IECB, status: charger.StatusPaused, enabled: true},
		{state: 1, plug: 7, user: false, iec: charger.IECB, status: charger.StatusPaused},
		{state: 1, plug: 7, auth: 1, sys: true, user: true, iec: charger.IECB, status: charger.StatusConnected, enabled: true},
		{state: 3, plug: 7, sys: true, user: true, i1: 16000, iec: charger.IECC, status: charger.StatusCharging, enabled: true, phases: 1},
		{state: 5, plug: 7, sys: false, user: true, iec: charger.IECB, status: charger.StatusPaused, enabled: true},
		{state: 0, plug: 5, iec: charger.IECB, status: charger.StatusConnected},
		{state: 4, plug: 7, iec: charger.IECF, status: charger.StatusError},
		{state: 4, plug: 0, iec: charger.IECF, status: charger.StatusError},
	}
	for _, c := range cases {
		r2 := &report2{state: c.state, plug: c.plug, authReq: c.auth, enableSys: c.sys, enableUser: c.user, currUser: 16000}
		zero := 0.0
		i1 := float64(c.i1)
		r3 := &report3{i: [3]*float64{&i1, &zero, &zero}}
		st := state(nil, r2, r3)
		phases := 0
		if st.Phases != nil {
			phases = *st.Phases
		}
		if st.IEC != c.iec || st.Status != c.status || *st.Enabled != c.enabled || phases != c.phases {
			t.Errorf("state %d plug %d auth %d: got %s/%s enabled %t phases %d, want %s/%s %t %d", c.state, c.plug,
				c.auth, st.IEC, st.Status, *st.Enabled, phases, c.iec, c.status, c.enabled, c.phases)
		}
		if (c.state == 4) != (st.ErrorCode != "") {
			t.Errorf("state %d: error code %q", c.state, st.ErrorCode)
		}
	}
}

func TestFailsafeShows(t *testing.T) {
	_, r2, _ := mustReports(t)
	r2.enableSys, r2.maxCurr = false, r2.currFS
	st := state(nil, r2, nil)
	if st.ErrorCode != "failsafe" || !strings.Contains(st.ErrorText, "no command for 30 s") {
		t.Fatalf("tripped failsafe: %q %q", st.ErrorCode, st.ErrorText)
	}
	if st.Power != nil || st.Currents != nil || st.SessionEnergy != nil {
		t.Fatalf("without report 3 the meter must stay unknown: %s", dump(st))
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		in   string
		kind kind
		id   int
		err  string
	}{
		{"TCH-OK :done", kindAck, 0, ""},
		{"TCH-OK :done\n", kindAck, 0, ""},
		{"TCH-OK: done", kindAck, 0, ""},
		{"TCH-ERR :unknown command", kindNack, 0, ""},
		{`{"State": 2}`, kindStatus, 0, ""},
		{`{"E pres": 123, "Plug": 7}`, kindStatus, 0, ""},
		{`{"ID": "2", "State": 2}`, kindReport, 2, ""},
		{`{"ID": 3}`, kindReport, 3, ""},
		{`{"ID": "x"}`, kindJunk, 0, "report ID"},
		{`{"ID": "2.5"}`, kindJunk, 0, "not an integer"},
		{`{"ID": "2",`, kindJunk, 0, "bad JSON"},
		{`{"ID": "2",,}`, kindJunk, 0, "bad JSON"},
		{`[1,2]`, kindJunk, 0, "not a KEBA reply"},
		{"", kindJunk, 0, "empty"},
		{"\x00\xff", kindJunk, 0, "not a KEBA reply"},
		{`null`, kindJunk, 0, "not a KEBA reply"},
	}
	for _, c := range cases {
		g := classify([]byte(c.in))
		if g.kind != c.kind || g.id != c.id {
			t.Errorf("%q: kind %d id %d, want %d %d", c.in, g.kind, g.id, c.kind, c.id)
		}
		if c.err == "" && g.err != nil || c.err != "" && (!errors.Is(g.err, charger.ErrBadReply) || !strings.Contains(g.err.Error(), c.err)) {
			t.Errorf("%q: error %v, want one mentioning %q", c.in, g.err, c.err)
		}
	}
}

func TestParseReportsReject(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"missing", `{"ID":"2","State":2,"Plug":7}`, `lacks "Enable sys", "Enable user", "Max curr", "Curr user"`},
		{"state 9", strings.Replace(reply2, `"State": 3`, `"State": 9`, 1), `"State": 9 outside 0..5`},
		{"state text", strings.Replace(reply2, `"State": 3`, `"State": "charging"`, 1), `"State": bad number`},
		{"plug fraction", strings.Replace(reply2, `"Plug": 7`, `"Plug": 6.5`, 1), `"Plug": 6.5 is not an integer`},
		{"current huge", strings.Replace(reply2, `"Curr user": 10000`, `"Curr user": 99999999`, 1), `"Curr user"`},
		{"enable 2", strings.Replace(reply2, `"Enable sys": 1`, `"Enable sys": 2`, 1), `"Enable sys"`},
		{"serial object", strings.Replace(reply2, `"Serial": "17012345"`, `"Serial": {}`, 1), `want a string`},
		{"amps negative", strings.Replace(reply3, `"I1": 9870`, `"I1": -5`, 1), `"I1": -5 outside`},
		{"volts absurd", strings.Replace(reply3, `"U1": 231`, `"U1": 23100`, 1), `"U1"`},
		{"power nan", strings.Replace(reply3, `"P": 6814500`, `"P": "NaN"`, 1), `"P": bad number`},
		{"energy bool", strings.Replace(reply3, `"E total": 12361010`, `"E total": true`, 1), `"E total": want a number`},
		{"power huge", strings.Replace(reply3, `"P": 6814500`, `"P": 1e999`, 1), `bad`},
	}
	for _, c := range cases {
		g := classify([]byte(c.body))
		var err error
		switch {
		case g.err != nil:
			err = g.err
		case g.id == 2:
			_, err = parseReport2(g.fields)
		case g.id == 3:
			_, err = parseReport3(g.fields)
		}
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.name, err, c.want)
		}
	}
}

func TestStatusMessagesUpdateReports(t *testing.T) {
	_, r2, r3 := mustReports(t)
	applyStatus(classify([]byte(`{"State": 2, "Max curr": 6000, "Enable sys": 0, "E pres": 20000}`)).fields, r2, r3)
	if r2.state != 2 || r2.maxCurr != 6000 || r2.enableSys || *r3.ePres != 20000 {
		t.Fatalf("status not applied: %+v", r2)
	}
	applyStatus(classify([]byte(`{"State": 77, "Plug": "x"}`)).fields, r2, nil)
	if r2.state != 2 || r2.plug != 7 {
		t.Fatalf("bad status values must be ignored: %+v", r2)
	}
}

func FuzzClassifyAndParse(f *testing.F) {
	for _, s := range []string{reply1, reply2, reply3, "TCH-OK :done", "TCH-ERR", `{"State":1}`, "", "{}",
		`{"ID":"2"}`, `{"ID":"3","I1":1e308,"P":-0}`, `{"ID":"2","State":0,"Plug":0,"Enable sys":0,` +
			`"Enable user":0,"Max curr":0,"Curr user":0,"Tmo FS":1,"Curr FS":0}`, `{"ID":"1","Serial":"\u0000"}`,
		`{"ID":"3","U1":"231","U2":" 1 ","U3":0,"I1":0,"I2":0,"I3":0}`, `{,}`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g := classify(b)
		if (g.kind == kindJunk) != (g.err != nil) {
			t.Fatalf("kind %d with error %v", g.kind, g.err)
		}
		if g.err != nil && !errors.Is(g.err, charger.ErrBadReply) {
			t.Fatalf("error %v is not ErrBadReply", g.err)
		}
		if g.kind != kindReport && g.kind != kindStatus {
			return
		}
		r1, err1 := parseReport1(g.fields)
		r2, err2 := parseReport2(g.fields)
		r3, err3 := parseReport3(g.fields)
		for _, err := range []error{err1, err2, err3} {
			if err != nil && !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
		}
		if err2 != nil {
			return
		}
		if err3 != nil {
			r3 = nil
		}
		if err1 != nil {
			r1 = nil
		}
		applyStatus(g.fields, r2, r3)
		st := state(r1, r2, r3)
		vals := append(append([]float64{*st.CurrentLimit}, st.Currents...), st.Voltages...)
		for _, p := range []*float64{st.Power, st.SessionEnergy, st.EnergyTotal} {
			if p != nil {
				vals = append(vals, *p)
			}
		}
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("implausible value %v in %+v", v, st)
			}
		}
		if st.Phases != nil && *st.Phases != 1 && *st.Phases != 3 {
			t.Fatalf("phases %d", *st.Phases)
		}
		valid := false
		for _, s := range charger.Statuses {
			valid = valid || s == st.Status
		}
		if !valid {
			t.Fatalf("status %q", st.Status)
		}
	})
}
