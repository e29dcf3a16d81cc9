package httpmeter

import (
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// TestConfigDecode decodes the options the way the daemon does.
func TestConfigDecode(t *testing.T) {
	parse := func(opts string) (*config.Config, error) {
		return config.Parse([]byte("meters:\n  - name: grid\n    driver: http_json\n"+opts), "test.yaml", charger.Default)
	}
	cfg, err := parse(`    options:
      url: http://ha.local:8123/api/states/sensor.grid
      headers: {Authorization: "Bearer x"}
      power: {path: state, scale: 1000}
      currents: [{path: "attributes.l1"}, {path: "attributes.l2"}]
      time_path: last_updated
`)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Meters[0].Options.(*Options)
	if o.Power == nil || o.Power.Scale != 1000 || len(o.Currents) != 2 || o.Headers["Authorization"] != "Bearer x" ||
		o.TimePath != "last_updated" || o.SoC != nil {
		t.Errorf("decoded %+v", o)
	}
	for opts, want := range map[string]string{
		"    options: {power: {path: a, scael: 2}}\n": "scael",
		"    options: {url: http://x/}\n":             "no value configured",
	} {
		if _, err := parse(opts); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", opts, err, want)
		}
	}
}
