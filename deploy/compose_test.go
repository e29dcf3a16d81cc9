package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

func TestComposeExample(t *testing.T) {
	path := filepath.Join(root, "docker-compose.example.yml")
	c := loadYAML(t, path)
	services, _ := c["services"].(map[string]any)
	ev, _ := services["evbridge"].(map[string]any)
	mq, _ := services["mosquitto"].(map[string]any)
	if ev == nil || mq == nil {
		t.Fatalf("want services evbridge and mosquitto, got %v", services)
	}
	version := addonConfig(t)["version"]
	if img := ev["image"]; img != fmt.Sprintf("ghcr.io/evbridge/evbridge:%v", version) {
		t.Errorf("evbridge image %v: want the released version %v, pinned", img, version)
	}
	if img, _ := mq["image"].(string); !regexp.MustCompile(`^eclipse-mosquitto:\d+\.\d+\.\d+$`).MatchString(img) {
		t.Errorf("mosquitto image %q: pin a version such as eclipse-mosquitto:2.0.20", img)
	}
	if ev["network_mode"] != "host" {
		t.Errorf("evbridge network_mode %v: mDNS needs host", ev["network_mode"])
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), "Multicast does not cross Docker's") {
		t.Error("the compose file does not explain why evbridge uses the host network")
	}
	var volumes []string
	for _, v := range list(ev["volumes"]) {
		volumes = append(volumes, fmt.Sprint(v))
	}
	if !slices.ContainsFunc(volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("evbridge volumes %v: want one on /data", volumes)
	}
	env, _ := ev["environment"].(map[string]any)
	if env["MQTT_BROKER"] != "tcp://127.0.0.1:1883" {
		t.Errorf("MQTT_BROKER %v: evbridge on the host network reaches the published Mosquitto on 127.0.0.1:1883", env["MQTT_BROKER"])
	}
}

// The image's fallback config runs the embedded broker and the web UI on
// every interface, keeps state in /data, and takes the broker from the
// environment.
func TestContainerDefaults(t *testing.T) {
	path := filepath.Join(root, "deploy", "container.yaml")
	for _, k := range []string{"MQTT_BROKER", "MQTT_USERNAME", "MQTT_PASSWORD", "EVBRIDGE_HTTP_TOKEN"} {
		t.Setenv(k, "")
	}
	cfg, err := config.Load(path, charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Broker != "" || cfg.MQTT.Embedded.Listen != "0.0.0.0:1883" || cfg.HTTP.Listen != "0.0.0.0:8080" ||
		cfg.StateFile() != "/data/evbridge-state.json" || len(cfg.Chargers) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	t.Setenv("MQTT_BROKER", "tcp://192.0.2.10:1883")
	t.Setenv("MQTT_USERNAME", "evbridge")
	t.Setenv("MQTT_PASSWORD", "pw${x}")
	t.Setenv("EVBRIDGE_HTTP_TOKEN", "tok")
	cfg, err = config.Load(path, charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Broker != "tcp://192.0.2.10:1883" || cfg.MQTT.Username != "evbridge" || cfg.MQTT.Password != "pw${x}" || cfg.HTTP.Token != "tok" {
		t.Errorf("from the environment: %+v", cfg.MQTT)
	}
}
