package sunspec

import (
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// TestConfigDecode decodes the options the way the daemon does.
func TestConfigDecode(t *testing.T) {
	parse := func(opts string) (*config.Config, error) {
		return config.Parse([]byte("meters:\n  - name: grid\n    driver: sunspec\n    address: 10.0.0.5\n"+opts),
			"test.yaml", charger.Default)
	}
	cfg, err := parse("    options: {unit_id: 240, base_address: 0, model: 203}\n")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Meters[0].Options.(*Options)
	if o.UnitID != 240 || o.BaseAddress == nil || *o.BaseAddress != 0 || o.Model != 203 || o.Instance != 1 {
		t.Errorf("decoded %+v", o)
	}
	cfg, err = parse("")
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Meters[0].Options.(*Options); o.UnitID != 1 || o.BaseAddress != nil {
		t.Errorf("defaults %+v", o)
	}
	for opts, want := range map[string]string{
		"    options: {model: 213}\n":         "model 213 is not supported",
		"    options: {base_address: 1000}\n": "base_address 1000",
		"    options: {unit: 3}\n":            "unit",
	} {
		if _, err := parse(opts); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", opts, err, want)
		}
	}
}
