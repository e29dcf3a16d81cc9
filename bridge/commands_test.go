package bridge

import (
	"strings"
	"testing"
)

func TestParseSetJSON(t *testing.T) {
	cases := []struct {
		in      string
		want    Command
		wantErr string
	}{
		{in: `{"current_limit":10}`, want: Command{CurrentLimit: ptr(10.0)}},
		{in: `{"current_limit":"10.5"}`, want: Command{CurrentLimit: ptr(10.5)}},
		{in: ` {"enabled":false, "phases":1} `, want: Command{Enabled: ptr(false), Phases: ptr(1)}},
		{in: `{"enabled":"ON"}`, want: Command{Enabled: ptr(true)}},
		{in: `{"phases":"3"}`, want: Command{Phases: ptr(3)}},
		{in: ``, wantErr: "empty payload"},
		{in: `[1]`, wantErr: "expected a JSON object"},
		{in: `10`, wantErr: "expected a JSON object"},
		{in: `{"current_limit":10`, wantErr: "invalid JSON"},
		{in: `{"current_limit":10}{}`, wantErr: "data after the object"},
		{in: `{}`, wantErr: "empty object"},
		{in: `{"current_limit":null}`, wantErr: "current_limit: expected a number"},
		{in: `{"current_limit":true}`, wantErr: "current_limit: expected a number"},
		{in: `{"current_limit":"NaN"}`, wantErr: "current_limit: expected a number"},
		{in: `{"current_limit":1e400}`, wantErr: "current_limit"},
		{in: `{"enabled":2}`, wantErr: "enabled: expected true or false"},
		{in: `{"phases":2}`, wantErr: "phases: expected 1 or 3"},
		{in: `{"mode":"pv","colour":1}`, wantErr: `unknown field "colour"`},
		{in: `{"mode":"turbo"}`, wantErr: "mode: expected one of off, now"},
		{in: `{"mode":3}`, wantErr: "mode: expected a string"},
		{in: `{"mode":"pv","plan_energy":20,"plan_departure":"07:30"}`, want: Command{Mode: ptr("pv"), PlanEnergy: ptr(20.0), PlanDeparture: ptr("07:30")}},
		{in: `{"plan_energy":-1}`, wantErr: "plan_energy: expected 0 to 150"},
		{in: `{"plan_departure":"7:30pm"}`, wantErr: "HH:MM"},
		{in: `{"a":1,"b":2}`, wantErr: `unknown field "b"`}, // every error is reported
		{in: strings.Repeat(" ", 5000), wantErr: "at most 4096"},
	}
	for _, c := range cases {
		got, err := ParseSetJSON([]byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSetJSON(%.30q) error = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSetJSON(%q): %v", c.in, err)
			continue
		}
		if !sameCommand(got, c.want) {
			t.Errorf("ParseSetJSON(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseSetField(t *testing.T) {
	cases := []struct {
		field, in string
		want      Command
		wantErr   string
	}{
		{field: "current_limit", in: "16", want: Command{CurrentLimit: ptr(16.0)}},
		{field: "current_limit", in: " 6.5\n", want: Command{CurrentLimit: ptr(6.5)}},
		{field: "enabled", in: "OFF", want: Command{Enabled: ptr(false)}},
		{field: "enabled", in: "true", want: Command{Enabled: ptr(true)}},
		{field: "phases", in: "1", want: Command{Phases: ptr(1)}},
		{field: "current_limit", in: "", wantErr: "expected a number"},
		{field: "current_limit", in: "Inf", wantErr: "finite"},
		{field: "enabled", in: "yes please", wantErr: "ON/OFF"},
		{field: "phases", in: "2", wantErr: "expected 1 or 3"},
		{field: "power", in: "1", wantErr: `unknown field "power"`},
		{field: "mode", in: "minpv", want: Command{Mode: ptr("minpv")}},
		{field: "reset", in: "PRESS", want: Command{Reset: true}},
		{field: "reset", in: "now", wantErr: "reset: expected PRESS"},
		{field: "mode", in: "PV", wantErr: "expected one of"},
		{field: "plan_energy", in: "12.5", want: Command{PlanEnergy: ptr(12.5)}},
		{field: "plan_departure", in: "25:00", wantErr: "HH:MM"},
	}
	for _, c := range cases {
		got, err := ParseSetField(c.field, []byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSetField(%s, %q) error = %v, want %q", c.field, c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || !sameCommand(got, c.want) {
			t.Errorf("ParseSetField(%s, %q) = %+v, %v", c.field, c.in, got, err)
		}
	}
}

func TestCommandMergeLatestWins(t *testing.T) {
	var c Command
	c.merge(Command{CurrentLimit: ptr(10.0), Enabled: ptr(true)})
	c.merge(Command{CurrentLimit: ptr(12.0)})
	c.merge(Command{Phases: ptr(1)})
	if !sameCommand(c, Command{CurrentLimit: ptr(12.0), Enabled: ptr(true), Phases: ptr(1)}) {
		t.Fatalf("merged %+v", c)
	}
}

func FuzzParseSetJSON(f *testing.F) {
	for _, s := range []string{`{"current_limit":10}`, `{"enabled":true,"phases":3}`, `{"x":[1,{}]}`, `{`, `"a"`, `{"current_limit":"1e309"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := ParseSetJSON(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if cmd.Empty() {
			t.Fatalf("no error but an empty command for %q", data)
		}
		if p := cmd.Phases; p != nil && *p != 1 && *p != 3 {
			t.Fatalf("phases %d accepted", *p)
		}
		for _, field := range []string{"current_limit", "enabled", "phases", "bogus"} {
			_, _ = ParseSetField(field, data)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func sameCommand(a, b Command) bool {
	return a.Reset == b.Reset && eqPtr(a.CurrentLimit, b.CurrentLimit) && eqPtr(a.Enabled, b.Enabled) && eqPtr(a.Phases, b.Phases) &&
		eqPtr(a.Mode, b.Mode) && eqPtr(a.PlanEnergy, b.PlanEnergy) && eqPtr(a.PlanDeparture, b.PlanDeparture)
}
