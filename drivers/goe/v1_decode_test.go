package goe

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// replyV1Doc is the example from the API v1 document (shortened to the
// keys that matter): idle, only phase 1 wired, N reading the voltage.
const replyV1Doc = `{"version":"B","rbc":"251","rbt":"2208867","car":"1","amp":"10","err":"0","ast":"0",` +
	`"alw":"1","stp":"0","cbl":"0","pha":"8","tmp":"30","dws":"0","dwo":"0","adi":"1","uby":"0","eto":"120",` +
	`"wst":"3","nrg":[2,0,0,235,0,0,0,0,0,0,0,0,0,0,0,0],"fwv":"020-rc1","sse":"000000","ama":"32"}`

// replyV1Charging is a V2 box charging on three phases at 15.9 A.
const replyV1Charging = `{"car":"2","amp":"16","amx":"16","alw":"1","err":"0","pha":"63","tmp":"31",` +
	`"dws":"5524200","eto":"12361","nrg":[229,231,230,0,159,158,160,36,36,37,0,1097,99,99,99,0],` +
	`"fwv":"040","sse":"004711","ama":"16"}`

func TestParseStatusV1(t *testing.T) {
	cases := []struct {
		name, body string
		want       charger.State
	}{
		{"document example", replyV1Doc, charger.State{
			IEC: charger.IECA, Status: charger.StatusNoVehicle, Enabled: charger.Ptr(true),
			CurrentLimit: charger.Ptr(10.0), Power: charger.Ptr(0.0), Currents: []float64{0, 0, 0},
			Voltages: []float64{235, 0, 0}, Phases: charger.Ptr(1), SessionEnergy: charger.Ptr(0.0),
			EnergyTotal: charger.Ptr(12.0), Temperature: charger.Ptr(30.0),
			Identity: charger.Identity{Brand: "go-e", Model: "go-eCharger (API v1)", Serial: "000000", Firmware: "020-rc1"},
		}},
		{"charging", replyV1Charging, charger.State{
			IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
			CurrentLimit: charger.Ptr(16.0), Power: charger.Ptr(10970.0), Currents: []float64{15.9, 15.8, 16},
			Voltages: []float64{229, 231, 230}, Phases: charger.Ptr(3), SessionEnergy: charger.Ptr(15.345),
			EnergyTotal: charger.Ptr(1236.1), Temperature: charger.Ptr(31.0),
			Identity: charger.Identity{Brand: "go-e", Model: "go-eCharger (API v1)", Serial: "004711", Firmware: "040"},
		}},
	}
	for _, c := range cases {
		s, err := parseStatusV1([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := s.state(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, dump(got), dump(c.want))
		}
	}
}

func TestStatusV1Mapping(t *testing.T) {
	base := strings.NewReplacer(`"car":"2"`, `"car":"%car"`, `"alw":"1"`, `"alw":"%alw"`, `"err":"0"`, `"err":"%err"`,
		`"pha":"63"`, `"pha":"%pha"`, `"amx":"16"`, `"amx":"%amx"`).Replace(replyV1Charging)
	cases := []struct {
		car, alw, err, pha, amx string
		iec                     charger.IECState
		status                  charger.Status
		phases, limit           int
		errText                 string
	}{
		{"1", "1", "0", "56", "16", charger.IECA, charger.StatusNoVehicle, 3, 16, ""},
		{"3", "1", "0", "56", "16", charger.IECB, charger.StatusPaused, 3, 16, ""},
		{"3", "0", "0", "8", "16", charger.IECB, charger.StatusPaused, 1, 16, ""},
		{"4", "1", "0", "57", "0", charger.IECB, charger.StatusComplete, 1, 16, ""}, // amx 0: amp
		{"2", "1", "0", "63", "12", charger.IECC, charger.StatusCharging, 3, 12, ""},
		{"2", "1", "1", "63", "16", charger.IECC, charger.StatusError, 3, 16, "RCCB: residual current device tripped"},
		{"3", "1", "8", "0", "16", charger.IECB, charger.StatusError, 0, 16, "NO_GROUND: earthing not detected"},
		{"0", "1", "10", "56", "16", charger.IECUnknown, charger.StatusError, 3, 16, "INTERNAL: internal error 10"},
		{"2", "1", "0", "24", "16", charger.IECC, charger.StatusCharging, 0, 16, ""}, // 2 phases: unknown
	}
	for _, c := range cases {
		body := strings.NewReplacer("%car", c.car, "%alw", c.alw, "%err", c.err, "%pha", c.pha, "%amx", c.amx).Replace(base)
		s, err := parseStatusV1([]byte(body))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		st := s.state()
		phases := 0
		if st.Phases != nil {
			phases = *st.Phases
		}
		if st.IEC != c.iec || st.Status != c.status || phases != c.phases || *st.CurrentLimit != float64(c.limit) ||
			st.ErrorText != c.errText || *st.Enabled != (c.alw == "1") {
			t.Errorf("%+v:\n got iec %q status %s phases %d limit %v err %q enabled %t", c, st.IEC, st.Status, phases,
				*st.CurrentLimit, st.ErrorText, *st.Enabled)
		}
	}
}

func TestParseStatusV1Rejects(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(replyV1Charging, old, new, 1) }
	cases := []struct{ name, body, want string }{
		{"empty", "", "empty reply"},
		{"html", "<html>go-e</html>", "HTML"},
		{"array", `["car"]`, "not a JSON object"},
		{"truncated", replyV1Charging[:50], "bad JSON"},
		{"missing", `{"car":"1","alw":"1"}`, "missing keys amp,nrg,dws,eto"},
		{"car word", r(`"car":"2"`, `"car":"two"`), `"car": "two" is not a number`},
		{"car 9", r(`"car":"2"`, `"car":"9"`), `"car": "9" outside 0..5`},
		{"alw 2", r(`"alw":"1"`, `"alw":"2"`), `"alw"`},
		{"alw bool", r(`"alw":"1"`, `"alw":true`), `"alw": want a numeric string, got bool`},
		{"amp nan", r(`"amp":"16"`, `"amp":"NaN"`), `"amp": "NaN" is not a number`},
		{"amp hex", r(`"amp":"16"`, `"amp":"0x10"`), `is not a number`},
		{"amp exp", r(`"amp":"16"`, `"amp":"1e1"`), `is not a number`},
		{"amp frac", r(`"amp":"16"`, `"amp":"16.5"`), `16.5 is not an integer`},
		{"amp space", r(`"amp":"16"`, `"amp":" 16"`), `is not a number`},
		{"nrg short", r(`,99,99,99,0]`, `,99,99,99]`), `"nrg": want an array of 16 values`},
		{"nrg text", r(`[229,`, `["x",`), `"nrg": [0]: "x" is not a number`},
		{"nrg volts", r(`[229,`, `[2290,`), `[0]: 2290 outside`},
		{"nrg amps", r(`,159,`, `,9999,`), `[4]: 9999 outside`},
		{"dws negative", r(`"dws":"5524200"`, `"dws":"-1"`), `"dws": "-1" outside`},
		{"eto huge", r(`"eto":"12361"`, `"eto":"99999999999999999999"`), `"eto"`},
		{"sse control", r(`"sse":"004711"`, `"sse":"00\u0007"`), `"sse": implausible string`},
	}
	for _, c := range cases {
		_, err := parseStatusV1([]byte(c.body))
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.name, err, c.want)
		}
	}
}

func TestCheckSetV1(t *testing.T) {
	cases := []struct {
		body, key string
		want      int
		err       error
		msg       string
	}{
		{replyV1Charging, "amx", 16, nil, ""},
		{replyV1Charging, "alw", 1, nil, ""},
		{replyV1Charging, "amx", 10, charger.ErrRejected, "amx is still 16 after setting 10"},
		{replyV1Doc, "amx", 10, nil, ""}, // no amx key: amp shows it
		{replyV1Doc, "amx", 12, charger.ErrRejected, "amx is still 10"},
		{replyV1Doc, "nmo", 1, charger.ErrBadReply, `no "nmo"`},
		{`{"alw":"yes"}`, "alw", 1, charger.ErrBadReply, "is not a number"},
		{`{"success":false,"error":"rate limiting"}`, "alw", 1, charger.ErrBadReply, `no "alw"`},
		{"", "alw", 1, charger.ErrBadReply, "empty reply"},
	}
	for _, c := range cases {
		err := checkSetV1([]byte(c.body), c.key, c.want)
		if c.err == nil {
			if err != nil {
				t.Errorf("%s=%d on %.30s: %v", c.key, c.want, c.body, err)
			}
			continue
		}
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s=%d on %.30s: %v, want %v mentioning %q", c.key, c.want, c.body, err, c.err, c.msg)
		}
	}
}

// FuzzV1ParseStatus is not named FuzzParseStatusV1: the Makefile runs
// -fuzz FuzzParseStatus, which must match one target only.
func FuzzV1ParseStatus(f *testing.F) {
	for _, s := range []string{replyV1Doc, replyV1Charging, "", "{}", `{"car":"1"}`, `{"nrg":"1"}`,
		`{"car":"-0","alw":"0","amp":"6","nrg":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16"],"dws":"0","eto":"0","pha":"7"}`,
		`{"car":"4","alw":1,"amp":32,"amx":"00000000000000000006","nrg":[0,0,0,0,0,0,0,0,0,0,0,-2500,0,0,0,0],"dws":0.5,"eto":"0.1"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkSetV1(body, "amx", 10); err != nil &&
			!errors.Is(err, charger.ErrBadReply) && !errors.Is(err, charger.ErrRejected) {
			t.Fatalf("set reply error %v is neither ErrBadReply nor ErrRejected", err)
		}
		s, err := parseStatusV1(body)
		if err != nil {
			if !errors.Is(err, charger.ErrBadReply) {
				t.Fatalf("error %v is not ErrBadReply", err)
			}
			return
		}
		st := s.state()
		vals := append(append([]float64{*st.Power, *st.SessionEnergy, *st.EnergyTotal, *st.CurrentLimit},
			st.Currents...), st.Voltages...)
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value in %+v", st)
			}
		}
		if *st.SessionEnergy < 0 || *st.EnergyTotal < 0 || len(st.Currents) != 3 || !validStatus(st.Status) {
			t.Fatalf("implausible state %+v", st)
		}
		if st.Phases != nil && *st.Phases != 1 && *st.Phases != 3 {
			t.Fatalf("phases %d", *st.Phases)
		}
	})
}
