package bridge

import (
	"strings"
	"testing"
)

func TestParseTuning(t *testing.T) {
	tu, err := parseTuning("", []byte(`{"start_threshold":200,"battery_priority_soc":"40"}`))
	if err != nil || *tu.StartThreshold != 200 || *tu.BatteryPrioritySoC != 40 || tu.StopThreshold != nil {
		t.Fatalf("%+v %v", tu, err)
	}
	tu, err = parseTuning("residual_power", []byte(" -100 "))
	if err != nil || *tu.ResidualPower != -100 {
		t.Fatalf("%+v %v", tu, err)
	}
	for _, c := range []struct{ field, in, want string }{
		{"", `{"phase_limit":40}`, `unknown field "phase_limit"`},
		{"", `[1]`, "JSON object"},
		{"", `{}`, "empty object"},
		{"", `{"stop_threshold":"x"}`, "stop_threshold: expected a number"},
		{"battery_priority_soc", "120", "expected 0 to 100"},
		{"start_threshold", "NaN", "finite"},
		{"colour", "1", "unknown field"},
	} {
		if _, err := parseTuning(c.field, []byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want %q", c.field, c.in, err, c.want)
		}
	}
	var base siteTuning
	base.merge(siteTuning{StopThreshold: ptr(100.0)})
	base.merge(siteTuning{StartThreshold: ptr(50.0)})
	if *base.StopThreshold != 100 || *base.StartThreshold != 50 {
		t.Fatalf("merge: %+v", base)
	}
}
