package mqttmeter

import (
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// TestConfigDecode decodes the options the way the daemon does: strictly,
// the main source inline, defaults kept where the file is silent.
func TestConfigDecode(t *testing.T) {
	yml := `
meters:
  - name: battery
    driver: mqtt_topic
    options:
      broker: tcp://192.168.1.10:1883
      topic: home/battery/power
      scale: -1
      more:
        - {topic: home/battery/soc, field: soc, max_age: 10m}
`
	cfg, err := config.Parse([]byte(yml), "test.yaml", charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := cfg.Meters[0].Options.(*Options)
	if !ok {
		t.Fatalf("options = %#v", cfg.Meters[0].Options)
	}
	if o.Topic != "home/battery/power" || o.Field != "power" || o.Scale != -1 || o.MaxAge != DefaultMaxAge ||
		len(o.More) != 1 || o.More[0].MaxAge != 10*time.Minute || o.More[0].Field != "soc" {
		t.Errorf("decoded %+v", o)
	}
	for yml, want := range map[string]string{
		"      topic: a\n      feild: soc\n": "feild",
		"      topic: a/#\n":                 "wildcard",
	} {
		_, err := config.Parse([]byte("meters:\n  - name: m\n    driver: mqtt_topic\n    options:\n"+yml), "t.yaml", charger.Default)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", yml, err, want)
		}
	}
}
