package config

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/meter"
)

type testMeterOptions struct {
	Topic string `yaml:"topic"`
}

func init() {
	meter.Register(meter.Driver{Name: "testmeter", NewOptions: func() any { return &testMeterOptions{} },
		New: func(meter.Settings, any, *slog.Logger) (meter.Meter, error) { return nil, nil }})
}

func TestSiteAndMeters(t *testing.T) {
	in := doc(
		"site:",
		"  grid_meter: grid",
		"  phase_limit: 35",
		"  pv:",
		"    start_delay: 10s",
		"meters:",
		"  - name: grid",
		"    driver: testmeter",
		"    invert: true",
		"    options:",
		"      topic: home/grid",
		"chargers:",
		"  - name: garage",
		"    driver: goe",
		"    address: 192.0.2.20",
		"    mode: pv",
		"    priority: 2",
		"    phases: 1",
	)
	cfg, err := Parse(in, "evbridge.yaml", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SiteEnabled() || cfg.Site.PhaseLimit != 35 || cfg.Site.PV.StartDelay.Seconds() != 10 || cfg.Site.SafeCurrent != DefaultSafeCurrent {
		t.Errorf("site = %+v", cfg.Site)
	}
	m := cfg.Meters[0]
	if !m.Invert || m.Scale != 1 || m.PollInterval != DefaultMeterPoll || m.Options.(*testMeterOptions).Topic != "home/grid" || m.Line != 7 {
		t.Errorf("meter = %+v", m)
	}
	if c := cfg.Chargers[0]; c.Mode != "pv" || c.Priority != 2 || c.Phases != 1 {
		t.Errorf("charger = %+v", c)
	}
}

func TestSiteErrors(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"site:", "  grid_meter: nosuch"}, `2:15: site.grid_meter: no meter named "nosuch"`},
		{[]string{"site:", "  pv_meter: pv", "meters:", "  - name: pv", "    driver: testmeter"}, "pv_meter and battery_meter need a grid_meter"},
		{[]string{"site:", "  phase_limit: 4"}, "phase_limit: 4 A is below the 6 A minimum"},
		{[]string{"site:", "  tick: 100ms"}, "site.tick: must be between 1s and 1m"},
		{[]string{"site:", "  battery_priority_soc: 120"}, "battery_priority_soc: must be between 0 and 100"},
		{[]string{"meters:", "  - name: grid", "    driver: tstmeter"}, "did you mean testmeter?"},
		{[]string{"meters:", "  - name: grid", "    driver: testmeter", "    scale: 0"}, "meters[0].scale: must not be 0"},
		{[]string{"meters:", "  - name: grid", "    driver: testmeter", "  - name: grid", "    driver: testmeter"}, `name "grid" is already used`},
		{[]string{"meters:", "  - name: grid", "    driver: testmeter", "    options:", "      topc: x"}, `unknown key "topc"; did you mean topic?`},
		{[]string{"chargers:", "  - name: a", "    driver: goe", "    address: 192.0.2.1", "    mode: turbo"}, "chargers[0].mode"},
		{[]string{"chargers:", "  - name: a", "    driver: goe", "    address: 192.0.2.1", "    phases: 2"}, "phases: must be 1 or 3"},
		{[]string{"discovery:", "  subnets: [192.0.2.0/16]"}, "probing is limited to /22 (raise max_prefix"},
		{[]string{"discovery:", "  subnets: [lan]"}, `expected a subnet such as 192.0.2.0/24, got "lan"`},
		{[]string{"discovery:", "  found: always"}, "discovery.found"},
		{[]string{"discovery:", "  interval: 1s"}, "discovery.interval: must be at least 10s"},
	}
	for _, c := range cases {
		_, err := Parse(doc(c.in...), "evbridge.yaml", testRegistry())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", strings.Join(c.in, " / "), err, c.want)
		}
	}
}
