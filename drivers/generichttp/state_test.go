package generichttp

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// replyCharging is a filtered go-e reply of a V3 charging on 3 phases.
const replyCharging = `{"car":2,"alw":true,"frc":0,"amp":10,"ama":16,` +
	`"nrg":[229,231,230,1,9.87,9.91,9.85,2260,2289,2265,0,6814.5,99,99,99,0],` +
	`"wh":1534.25,"eto":1236101,"err":0,"psm":0,"pnp":3,"fwv":"059.4","sse":"072246",` +
	`"typ":"go-eCharger","var":11,"rssi":-61,"tma":[26.1,24.9]}`

func goeProgram(t testing.TB) *program {
	t.Helper()
	p, err := (&Options{Builtin: "goe"}).program()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoeStateFromReply(t *testing.T) {
	st, devMax, err := goeProgram(t).state([]any{decoded(t, replyCharging)})
	if err != nil {
		t.Fatal(err)
	}
	want := charger.State{
		IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
		CurrentLimit: charger.Ptr(10.0), Power: charger.Ptr(6814.5),
		Currents: []float64{9.87, 9.91, 9.85}, Voltages: []float64{229, 231, 230}, Phases: charger.Ptr(3),
		SessionEnergy: charger.Ptr(1.53425), EnergyTotal: charger.Ptr(1236.101),
		RSSI: charger.Ptr(-61.0), Temperature: charger.Ptr(26.1),
		Identity: charger.Identity{Brand: "go-e", Model: "go-eCharger 11 kW", Serial: "072246", Firmware: "059.4"},
	}
	if !reflect.DeepEqual(st, want) || devMax != 16 {
		t.Fatalf("state:\n got %s (max %v)\nwant %s", dump(st), devMax, dump(want))
	}
}

func TestGoeStatusTable(t *testing.T) {
	p := goeProgram(t)
	cases := []struct {
		car, alw, frc, err string
		iec                charger.IECState
		status             charger.Status
		enabled            bool
		code, text         string
	}{
		{"1", "true", "0", "0", charger.IECA, charger.StatusNoVehicle, true, "", ""},
		{"3", "true", "0", "0", charger.IECB, charger.StatusPaused, true, "", ""},
		{"3", "false", "1", "0", charger.IECB, charger.StatusPaused, false, "", ""},
		{"3", "false", "0", "0", charger.IECB, charger.StatusConnected, false, "", ""},
		{"4", "true", "2", "0", charger.IECB, charger.StatusComplete, true, "", ""},
		{"5", "false", "0", "0", charger.IECF, charger.StatusError, false, "", ""},
		{"0", "false", "2", "0", charger.IECUnknown, charger.StatusError, true, "", ""},
		{"null", "false", "0", "null", charger.IECUnknown, charger.StatusError, false, "", ""},
		{"2", "true", "0", "5", charger.IECC, charger.StatusError, true, "5", "Overamp: overcurrent"},
		{"2", "true", "0", "42", charger.IECC, charger.StatusError, true, "42", "42"},
	}
	for _, c := range cases {
		body := `{"car":` + c.car + `,"alw":` + c.alw + `,"frc":` + c.frc + `,"amp":6,"err":` + c.err +
			`,"nrg":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"wh":0,"eto":0}`
		st, _, err := p.state([]any{decoded(t, body)})
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if st.IEC != c.iec || st.Status != c.status || *st.Enabled != c.enabled || st.ErrorCode != c.code || st.ErrorText != c.text {
			t.Errorf("%s: got %q/%s enabled %t error %q %q", body, st.IEC, st.Status, *st.Enabled, st.ErrorCode, st.ErrorText)
		}
	}
}

func TestFieldReading(t *testing.T) {
	docs := []any{decoded(t, `{"s":"C","w":"1534.25","x":[3,"4",5.5],"e":[],"b":"on","t":"a\u0001b","big":1e308}`)}
	cases := []struct {
		f    Field
		k    kind
		want any // float64, bool, string, error text
	}{
		{Field{Path: "w", Scale: ptr(0.001)}, kindNumber, 1.53425},
		{Field{Path: "w", Scale: ptr(2.0)}, kindNumber, 3068.5},
		{Field{Template: "{{max .x}}"}, kindNumber, 5.5},
		{Field{Template: "{{min .x}}"}, kindNumber, 3.0},
		{Field{Template: "{{sum .x}}"}, kindNumber, 12.5},
		{Field{Template: `{{get . "x[1]"}}`}, kindNumber, 4.0},
		{Field{Template: "{{max .e}}", Optional: true}, kindNumber, nil},
		{Field{Template: "{{max .e}}"}, kindNumber, "no value"},
		{Field{Template: "{{.nope}}", Optional: true}, kindNumber, nil},
		{Field{Template: "{{.nope}}"}, kindNumber, "map has no entry"},
		{Field{Template: "{{max .s}}"}, kindNumber, "want an array"},
		{Field{Path: "big", Scale: ptr(10.0)}, kindNumber, "out of range"},
		{Field{Path: "b"}, kindBool, `"on" is not true or false`},
		{Field{Path: "b", Map: []Case{{Match: "on", Value: "true"}}}, kindBool, true},
		{Field{Path: "s"}, kindIEC, charger.IECC},
		{Field{Path: "t"}, kindText, "implausible text"},
		{Field{Path: "x[0]", Map: []Case{{Match: "?", Value: "three"}}}, kindText, "three"},
		{Field{Path: "x[0]", Map: []Case{{Match: "9", Value: "nine"}}}, kindText, "3"},
	}
	for i, c := range cases {
		comp := &compiler{reads: []*read{{name: "r"}}, used: []bool{false}}
		f := comp.field("f", &c.f, c.k)
		if len(comp.errs) > 0 {
			t.Fatalf("case %d: %v", i, comp.errs)
		}
		v, err := f.read(docs)
		var got any
		switch {
		case err != nil:
			got = err.Error()
			if !errors.Is(err, charger.ErrBadReply) {
				t.Errorf("case %d: %v is not ErrBadReply", i, err)
			}
		case v == nil:
			got = nil
		case c.k == kindNumber:
			got = v.num
		case c.k == kindBool:
			got = v.on
		case c.k == kindIEC:
			got = v.iec
		default:
			got = v.text
		}
		if s, ok := c.want.(string); ok && c.k != kindText || (ok && strings.HasPrefix(s, "implausible")) {
			if gs, _ := got.(string); !strings.Contains(gs, s) {
				t.Errorf("case %d: %v, want an error mentioning %q", i, got, s)
			}
			continue
		}
		if got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
