package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/evbridge/evbridge/ha"
	"github.com/evbridge/evbridge/ha/hatest"
)

const wait = 10 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() || os.Getenv("EVBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startGoe runs a go-e simulator with a car plugged in.
func startGoe(t testing.TB, ctx context.Context) *goe.Simulator {
	t.Helper()
	sim := goe.NewSimulator(goe.SimConfig{Serial: "012345", Firmware: "056.8", Variant: 11, Plugged: true})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func goeCharger(name, addr string) config.Charger {
	d, _ := charger.Default.Lookup("goe")
	c := config.Charger{Name: name, Driver: "goe", Address: addr, MaxCurrent: 16,
		PollInterval: 200 * time.Millisecond, Timeout: time.Second}
	if d.NewOptions != nil {
		c.Options = d.NewOptions()
	}
	return c
}

func startBridge(t testing.TB, ctx context.Context, cfg *config.Config) *bridge.Bridge {
	t.Helper()
	b, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test",
		BackoffMax: 500 * time.Millisecond, BirthJitter: 50 * time.Millisecond, CleanupWindow: 300 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

func decodeState(t testing.TB, m bridgetest.Message) map[string]any {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal(m.Payload, &st); err != nil {
		t.Fatalf("state is not JSON: %v: %s", err, m.Payload)
	}
	return st
}

func stateWhere(key string, want any) func(bridgetest.Message) bool {
	return func(m bridgetest.Message) bool {
		var st map[string]any
		if json.Unmarshal(m.Payload, &st) != nil {
			return false
		}
		return fmt.Sprint(st[key]) == fmt.Sprint(want)
	}
}

func payloadIs(s string) func(bridgetest.Message) bool {
	return func(m bridgetest.Message) bool { return string(m.Payload) == s }
}

func TestEndToEndMosquitto(t *testing.T) {
	m := bridgetest.StartMosquitto(t)
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	endToEnd(t, cfg, m)
}

func TestEndToEndEmbeddedBroker(t *testing.T) {
	cfg := testConfig()
	cfg.MQTT.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	endToEnd(t, cfg, nil)
}

// endToEnd runs the bridge against a go-e simulator and asserts on what an
// MQTT subscriber sees. m is nil for the embedded broker.
func endToEnd(t *testing.T, cfg *config.Config, m *bridgetest.Mosquitto) {
	ctx := bridgetest.Context(t)
	sim := startGoe(t, ctx)
	cfg.Chargers = []config.Charger{goeCharger("garage", sim.Addr())}
	hopts := ha.Options{Prefix: "homeassistant", BaseTopic: "evbridge", BridgeID: "evbridge", Version: "test"}

	var sub *bridgetest.Subscriber
	if m != nil {
		sub = bridgetest.Subscribe(t, m.URL(), "#")
		// A retained config of a charger that is no longer configured must be removed.
		old := ha.ChargerDevice(hopts, ha.ChargerInfo{ID: "old_box", CanSetCurrent: true, MinCurrent: 6, MaxCurrent: 16, CurrentStep: 1})
		sub.Publish(old.Topic, true, string(old.Payload))
		sub.WaitFor(old.Topic, wait, nil)
		startBridge(t, ctx, cfg)
		sub.WaitFor(old.Topic, wait, func(m bridgetest.Message) bool { return len(m.Payload) == 0 })
	} else {
		b := startBridge(t, ctx, cfg)
		// Subscribe once the bridge has published its retained messages:
		// a subscription racing the first publishes may miss one on the
		// embedded broker, which real clients (HA subscribes first) never see.
		waitSim(t, b.Connected)
		time.Sleep(100 * time.Millisecond)
		sub = bridgetest.Subscribe(t, b.BrokerURL(), "#")
	}

	sub.WaitFor("evbridge/bridge/state", wait, payloadIs("online"))
	sub.WaitFor("evbridge/garage/availability", wait, payloadIs("online"))
	discTopic := "homeassistant/device/" + ha.ChargerObjectID(hopts, "garage") + "/config"
	disc := sub.WaitFor(discTopic, wait, func(m bridgetest.Message) bool { return strings.Contains(string(m.Payload), "012345") })

	t.Run("discovery is valid", func(t *testing.T) {
		// A fresh subscriber gets every retained config, whatever raced
		// the first publishes; both devices must be there.
		fresh := bridgetest.Subscribe(t, sub.URL(), "homeassistant/#")
		fresh.WaitFor("homeassistant/device/"+ha.BridgeObjectID(hopts)+"/config", wait, nil)
		fresh.WaitFor(discTopic, wait, nil)
		all := map[string][]byte{}
		for _, msg := range fresh.All() {
			if strings.HasPrefix(msg.Topic, "homeassistant/") && len(msg.Payload) > 0 && msg.Topic != "homeassistant/status" {
				all[msg.Topic] = msg.Payload
			}
		}
		if len(all) < 2 {
			t.Fatalf("want bridge and charger discovery, got %d topics", len(all))
		}
		for topic, payload := range all {
			for _, err := range hatest.Validate(topic, payload) {
				t.Errorf("%s: %v", topic, err)
			}
		}
		for _, err := range hatest.CheckSet(all) {
			t.Error(err)
		}
		if !disc.Retained && m != nil {
			// The subscriber was connected before the publish, so the flag is not set; check via a fresh subscriber.
			fresh := bridgetest.Subscribe(t, m.URL(), discTopic)
			if got := fresh.WaitFor(discTopic, wait, nil); !got.Retained {
				t.Error("discovery config is not retained")
			}
		}
	})

	t.Run("state equals the simulator", func(t *testing.T) {
		msg := sub.WaitFor("evbridge/garage/state", wait, stateWhere("serial", "012345"))
		st := decodeState(t, msg)
		snap := sim.Snapshot()
		if got := st["current_limit"]; got != float64(snap.Amp) {
			t.Errorf("current_limit %v, simulator amp %v", got, snap.Amp)
		}
		if got, want := st["energy_total"].(float64), float64(snap.Eto)/1000; math.Abs(got-want) > 0.05 {
			t.Errorf("energy_total %v kWh, simulator eto %v Wh", got, snap.Eto)
		}
		for _, k := range []string{"status", "iec_state", "enabled", "power", "phases", "session_energy", "firmware", "rssi", "plug", "ip", "last_seen"} {
			if _, ok := st[k]; !ok {
				t.Errorf("state lacks %q: %s", k, msg.Payload)
			}
		}
		if st["plug"] != true {
			t.Errorf("car is plugged in but plug=%v", st["plug"])
		}
	})

	t.Run("set current reaches the simulator", func(t *testing.T) {
		sub.Publish("evbridge/garage/set/current_limit", false, "10")
		waitSim(t, func() bool { return sim.Snapshot().Amp == 10 })
		sub.WaitFor("evbridge/garage/state", wait, stateWhere("current_limit", 10))
		sub.Publish("evbridge/garage/set", false, `{"current_limit": 12, "enabled": true}`)
		waitSim(t, func() bool { return sim.Snapshot().Amp == 12 })
	})

	t.Run("bad commands are refused with a reason", func(t *testing.T) {
		cases := []struct{ topic, payload, want string }{
			{"evbridge/garage/set", `{"current_limit": 40}`, "max_current"},
			{"evbridge/garage/set", `{"current_limit": 3}`, "below the minimum"},
			{"evbridge/garage/set", `{"current_limt": 10}`, "unknown field"},
			{"evbridge/garage/set", `{"current_limit": "ten"}`, "expected a number"},
			{"evbridge/garage/set", `not json`, "JSON object"},
			{"evbridge/garage/set", ``, "empty payload"},
			{"evbridge/garage/set/phases", `2`, "expected 1 or 3"},
			{"evbridge/garage/set/enabled", `maybe`, "ON/OFF"},
			{"evbridge/garage/set/colour", `red`, "unknown field"},
			{"evbridge/garage/set/reset", `PRESS`, "not supported"},
		}
		for _, c := range cases {
			start := time.Now()
			sub.Publish(c.topic, false, c.payload)
			got, ok := sub.WaitForAfter(start, "evbridge/garage/error", wait, func(m bridgetest.Message) bool {
				return strings.Contains(string(m.Payload), c.want)
			})
			if !ok {
				t.Errorf("%s %q: no error mentioning %q", c.topic, c.payload, c.want)
				continue
			}
			_ = got
		}
		if amp := sim.Snapshot().Amp; amp > 16 {
			t.Fatalf("simulator got %v A above max_current", amp)
		}
		start := time.Now()
		sub.Publish("evbridge/nosuch/set/current_limit", false, "10")
		if _, ok := sub.WaitForAfter(start, "evbridge/bridge/log", wait, func(m bridgetest.Message) bool {
			return strings.Contains(string(m.Payload), "nosuch")
		}); !ok {
			t.Error("command for an unknown charger: nothing on evbridge/bridge/log")
		}
	})

	t.Run("availability follows the device", func(t *testing.T) {
		start := time.Now()
		addr := sim.Addr()
		if err := sim.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := sub.WaitForAfter(start, "evbridge/garage/availability", wait, payloadIs("offline")); !ok {
			t.Fatal("charger did not go offline after the simulator stopped")
		}
		start = time.Now()
		if err := sim.Start(ctx, addr); err != nil {
			t.Fatal(err)
		}
		if _, ok := sub.WaitForAfter(start, "evbridge/garage/availability", wait, payloadIs("online")); !ok {
			t.Fatal("charger did not come back online")
		}
	})

	t.Run("re-announce after Home Assistant's birth message", func(t *testing.T) {
		start := time.Now()
		sub.Publish("homeassistant/status", false, "online")
		if _, ok := sub.WaitForAfter(start, discTopic, wait, nil); !ok {
			t.Fatal("no discovery after birth message")
		}
		if _, ok := sub.WaitForAfter(start, "evbridge/garage/state", wait, nil); !ok {
			t.Fatal("no state after birth message")
		}
	})

	if m == nil {
		return
	}
	t.Run("broker killed and restarted", func(t *testing.T) {
		m.Restart()
		back := time.Now()
		// The broker has no persistence: everything seen now was republished.
		for _, topic := range []string{discTopic, "evbridge/garage/state", "evbridge/bridge/state", "evbridge/garage/availability"} {
			if _, ok := sub.WaitForAfter(back, topic, 5*time.Second, nil); !ok {
				t.Errorf("%s not republished within 5 s of the broker's return", topic)
			}
		}
	})
}

// waitSim polls the simulator until cond holds.
func waitSim(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("simulator never reached the expected state")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contextWithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(parent)
}

// testConfig is the default config without mDNS browsing: tests send
// traffic only to loopback (mDNS would multicast on every interface).
func testConfig() *config.Config {
	c := config.Default()
	c.Discovery.MDNS = false
	return c
}
