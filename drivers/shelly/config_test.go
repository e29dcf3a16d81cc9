package shelly

import (
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// TestConfigDecode decodes the options the way the daemon does.
func TestConfigDecode(t *testing.T) {
	parse := func(opts string) (*config.Config, error) {
		return config.Parse([]byte("meters:\n  - name: grid\n    driver: shelly_pro3em\n    address: 10.0.0.7\n"+opts),
			"test.yaml", charger.Default)
	}
	cfg, err := parse("    options: {password: hunter2}\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Meters[0].Options.(*Options); o.Password != "hunter2" || o.ID != 0 {
		t.Errorf("decoded %+v", o)
	}
	if _, err := parse("    options: {user: bob}\n"); err == nil || !strings.Contains(err.Error(), "user") {
		t.Errorf("unknown key: err = %v", err)
	}
}
