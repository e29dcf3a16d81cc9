package bridge_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/shelly"
)

// siteTicks collects the site state messages, one per controller tick.
func siteStates(sub *bridgetest.Subscriber, since time.Time) []map[string]any {
	var out []map[string]any
	for _, m := range sub.Since(since, "evbridge/site/state") {
		var st map[string]any
		if json.Unmarshal(m.Payload, &st) == nil {
			out = append(out, st)
		}
	}
	return out
}

func chargerDecision(st map[string]any, id string) map[string]any {
	chs, _ := st["chargers"].(map[string]any)
	d, _ := chs[id].(map[string]any)
	return d
}

// End to end: a simulated Shelly Pro 3EM grid meter whose reading includes
// the simulated car's draw, a go-e simulator, real Mosquitto. A change in
// surplus moves the charger's setpoint within two controller ticks of the
// controller seeing it; a lost meter sends the charger to the safe current
// within two ticks and says why; control resumes when the meter returns.
func TestSiteControllerEndToEnd(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	car := startGoe(t, ctx)
	var pvW, houseW atomic.Int64
	pvW.Store(6000)
	houseW.Store(900)
	grid := shelly.NewSimulator(shelly.SimConfig{Power: func(time.Time) [3]float64 {
		w := (float64(houseW.Load()) - float64(pvW.Load()) + car.Snapshot().Power) / 3
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
	cfg.Site.GridMeter = "grid"
	cfg.Site.Tick = time.Second
	cfg.Site.PhaseLimit = 35
	c := goeCharger("garage", car.Addr())
	c.Mode, c.Phases, c.PollInterval = "minpv", 3, 500*time.Millisecond
	cfg.Chargers = []config.Charger{c}
	sub := bridgetest.Subscribe(t, m.URL(), "#")
	startBridge(t, ctx, cfg)
	sub.WaitFor("evbridge/garage/availability", wait, payloadIs("online"))

	// More surplus → a higher current, reaching the charger.
	current := func(st map[string]any) float64 { f, _ := chargerDecision(st, "garage")["current"].(float64); return f }

	// The car settles on the 6 kW PV surplus.
	sub.WaitFor("evbridge/site/state", wait, func(msg bridgetest.Message) bool {
		var st map[string]any
		return json.Unmarshal(msg.Payload, &st) == nil && current(st) >= 6
	})
	waitSim(t, func() bool { return car.Snapshot().Amp >= 6 })
	low := car.Snapshot().Amp

	start := time.Now()
	pvW.Store(11000)
	st := waitForSite(t, sub, start, func(st map[string]any) bool { return current(st) > float64(low) })
	waitSim(t, func() bool { return float64(car.Snapshot().Amp) == current(st) })
	if amp := car.Snapshot().Amp; amp > 16 {
		t.Fatalf("charger at %d A, above max_current", amp)
	}

	// Surplus gone: minpv holds the 6 A minimum.
	start = time.Now()
	pvW.Store(500)
	waitForSite(t, sub, start, func(st map[string]any) bool { return current(st) == 6 })
	waitSim(t, func() bool { return car.Snapshot().Amp == 6 })

	// Meter lost: the safe current within two ticks, with a reason.
	start = time.Now()
	grid.SetFault(shelly.FaultHTML)
	var states []map[string]any
	waitSim(t, func() bool {
		states = siteStates(sub, start)
		n := 0
		for _, s := range states {
			if s["grid_power"] == nil {
				n++
			}
		}
		return n >= 2
	})
	first := -1
	for i, s := range states {
		if s["grid_power"] == nil {
			first = i
			break
		}
	}
	if first < 0 || first+1 >= len(states) || states[first+1]["meter_ok"] != false {
		t.Fatalf("meter loss not reported within two ticks: %v", states)
	}
	if r, _ := states[first+1]["meter_reason"].(string); r == "" || r == "ok" {
		t.Errorf("meter loss without a reason: %v", states[first+1])
	}
	if cur := current(states[first+1]); cur != cfg.Site.SafeCurrent {
		t.Errorf("second tick after meter loss: %v A, want the safe current %v A", cur, cfg.Site.SafeCurrent)
	}

	// Meter back: control resumes.
	start = time.Now()
	grid.SetFault(shelly.FaultNone)
	waitForSite(t, sub, start, func(st map[string]any) bool { return st["meter_ok"] == true })

	// Tuning from Home Assistant: applied, shown, and bad values refused.
	start = time.Now()
	sub.Publish("evbridge/site/set/stop_threshold", false, "500")
	waitStates(t, sub, start, func(st map[string]any) bool { return st["stop_threshold"] == 500.0 })
	sub.Publish("evbridge/site/set", false, `{"phase_limit": 63}`)
	if _, ok := sub.WaitForAfter(start, "evbridge/site/error", wait, nil); !ok {
		t.Error("the main fuse must not be settable at runtime, and the refusal must be published")
	}
}

func lastSite(sub *bridgetest.Subscriber) string {
	m, _ := sub.Latest("evbridge/site/state")
	return string(m.Payload)
}

// waitForSite waits for a site state after since that satisfies ok, and
// checks it came at most two ticks after the controller first saw a
// reading taken after since.
func waitForSite(t *testing.T, sub *bridgetest.Subscriber, since time.Time, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	states := waitStates(t, sub, since, ok)
	// The meter is polled every 500 ms and the controller ticks every
	// second, so the first tick after since may still use the old reading:
	// allow it, plus the two ticks the issue allows.
	if len(states) > 3 {
		t.Errorf("decision took %d ticks after the change, want at most 3 (one stale reading + 2)", len(states))
	}
	return states[len(states)-1]
}

// waitStates returns the site states from since up to and including the
// first that satisfies ok.
func waitStates(t *testing.T, sub *bridgetest.Subscriber, since time.Time, ok func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		states := siteStates(sub, since)
		for i, st := range states {
			if ok(st) {
				return states[:i+1]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no such site state; last: %s", lastSite(sub))
	return nil
}
