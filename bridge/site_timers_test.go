package bridge_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/store"
	"github.com/evbridge/evbridge/drivers/shelly"
)

// timersInFile reads the contactor timers section of a state file.
func timersInFile(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var f struct {
		Sections map[string][]map[string]any `json:"sections"`
	}
	_ = json.Unmarshal(data, &f)
	return f.Sections["contactor_timers"]
}

// The controller's contactor times go to the state file when they change
// and are taken back after a restart: a charger charging through the
// restart keeps its real start time instead of getting a new minimum on
// time (and one stopped keeps its real stop: see bridge/solar's tests).
func TestContactorTimersSurviveRestart(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	car := startGoe(t, ctx)
	grid := shelly.NewSimulator(shelly.SimConfig{Power: func(time.Time) [3]float64 {
		w := (300 + car.Snapshot().Power) / 3
		return [3]float64{w, w, w}
	}})
	if err := grid.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = grid.Close() })
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	d, _ := meter.Default.Lookup("shelly_pro3em")
	cfg.Meters = []config.Meter{{Name: "grid", Driver: "shelly_pro3em", Address: grid.Addr(), Scale: 1,
		PollInterval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, Options: d.NewOptions()}}
	cfg.Site.GridMeter, cfg.Site.Tick, cfg.Site.PhaseLimit = "grid", 500*time.Millisecond, 35
	c := goeCharger("garage", car.Addr())
	c.Mode, c.PollInterval = "now", 500*time.Millisecond
	cfg.Chargers = []config.Charger{c}
	statePath := filepath.Join(t.TempDir(), "state.json")

	run := func() (stop func()) {
		st, err := store.Open(statePath, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		b, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test", Store: st,
			CleanupWindow: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		bctx, cancel := contextWithCancel(ctx)
		if err := b.Start(bctx); err != nil {
			t.Fatal(err)
		}
		return func() { cancel(); b.Stop() }
	}

	stop := run()
	var onSince string
	waitSim(t, func() bool {
		ts := timersInFile(t, statePath)
		if len(ts) == 1 && ts[0]["id"] == "garage" && ts[0]["on"] == true {
			onSince, _ = ts[0]["on_since"].(string)
		}
		return onSince != ""
	})
	stop()
	started := time.Now()
	time.Sleep(1100 * time.Millisecond) // a restart is not instant: "now" moves on

	sub := bridgetest.Subscribe(t, m.URL(), "evbridge/site/state")
	stop = run()
	defer stop()
	// Several ticks of the new process with the car charging.
	waitSim(t, func() bool { return len(siteStates(sub, started)) >= 4 })
	ts := timersInFile(t, statePath)
	if len(ts) != 1 || ts[0]["on"] != true || ts[0]["on_since"] != onSince {
		t.Fatalf("after the restart the timers are %v; want on since %s, as before it", ts, onSince)
	}
}
