package bridge_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/ocpp"
	"github.com/evbridge/evbridge/ha"
	"github.com/evbridge/evbridge/ha/hatest"
)

// ocppRun numbers the runs, so that -count=N does not meet sessions of
// an earlier run in the process-wide central system registry.
var ocppRun atomic.Int64

// End to end with a real Mosquitto: a simulated OCPP charge point dials
// evbridge's central system, appears in HA discovery, its meter values
// become state, and a `set` current becomes a charging profile it follows.
// An unknown charge point waits as pending. Both OCPP 1.6J and 2.0.1.
func TestOCPPEndToEnd(t *testing.T) {
	for _, proto := range []string{"ocpp1.6", "ocpp2.0.1"} {
		t.Run(proto, func(t *testing.T) {
			// The central system's session registry is per process: each
			// run gets its own charge point identity.
			id := fmt.Sprintf("WB%s-%d", strings.ReplaceAll(proto, ".", ""), ocppRun.Add(1))
			ctx := bridgetest.Context(t)
			m := bridgetest.StartMosquitto(t)
			listen := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
			sc := ocpp.DefaultServerConfig()
			sc.Listen, sc.Unknown = listen, "pending"
			cfg := testConfig()
			cfg.MQTT.Broker = m.URL()
			cfg.Services = map[string]any{"ocpp": &sc}
			cfg.Chargers = []config.Charger{{Name: "pulsar", Driver: "ocpp", Address: id, MaxCurrent: 16,
				PollInterval: 500 * time.Millisecond, Timeout: 2 * time.Second, Options: &ocpp.Options{Connector: 1}}}
			sub := bridgetest.Subscribe(t, m.URL(), "#")
			startBridge(t, ctx, cfg)

			cp := ocpp.NewChargePointSim(ocpp.SimConfig{ID: id, Protocol: proto, Vendor: "Wallbox", Model: "Pulsar Plus",
				Serial: "PP-123", Firmware: "6.6.1", Plugged: true, MeterInterval: time.Second})
			go func() { _ = cp.Run(ctx, "ws://"+listen) }()

			sub.WaitFor("evbridge/pulsar/availability", wait, payloadIs("online"))
			hopts := ha.Options{Prefix: "homeassistant", BaseTopic: "evbridge", BridgeID: "evbridge"}
			topic := "homeassistant/device/" + ha.ChargerObjectID(hopts, "pulsar") + "/config"
			disc := sub.WaitFor(topic, wait, func(m bridgetest.Message) bool { return strings.Contains(string(m.Payload), "PP-123") })
			for _, err := range hatest.Validate(topic, disc.Payload) {
				t.Error(err)
			}
			st := sub.WaitFor("evbridge/pulsar/state", wait, func(m bridgetest.Message) bool {
				s := decodeState(t, m)
				p, _ := s["power"].(float64)
				return p > 0 && s["energy_total"] != nil
			})
			if s := decodeState(t, st); s["status"] != "charging" {
				t.Errorf("status %v, want charging: %s", s["status"], st.Payload)
			}
			// The charge point reports the car's SoC: the state carries it
			// and the device gains a battery sensor.
			sub.WaitFor("evbridge/pulsar/state", wait, func(m bridgetest.Message) bool {
				soc, ok := decodeState(t, m)["vehicle_soc"].(float64)
				return ok && soc > 0 && soc <= 100
			})
			withSoC := sub.WaitFor(topic, wait, func(m bridgetest.Message) bool {
				return strings.Contains(string(m.Payload), `"vehicle_soc"`)
			})
			for _, err := range hatest.Validate(topic, withSoC.Payload) {
				t.Error(err)
			}

			sub.Publish("evbridge/pulsar/set/current_limit", false, "10")
			waitSim(t, func() bool { return cp.Snapshot().Limit == 10 })
			sub.WaitFor("evbridge/pulsar/state", wait, stateWhere("current_limit", 10))
			if cp.Snapshot().ProfilesAccepted == 0 {
				t.Error("no charging profile accepted")
			}
			sub.Publish("evbridge/pulsar/set/current_limit", false, "40")
			if _, ok := sub.WaitForAfter(time.Now().Add(-time.Second), "evbridge/pulsar/error", wait, nil); !ok {
				t.Error("40 A above max_current was not refused")
			}

			// The HA restart button resets the charge point, which boots again.
			if !strings.Contains(string(disc.Payload), `"platform":"button"`) {
				t.Error("no restart button in the discovery payload")
			}
			boots := cp.Snapshot().Boots
			sub.Publish("evbridge/pulsar/set/reset", false, "PRESS")
			waitSim(t, func() bool { return cp.Snapshot().Boots > boots })

			stranger := ocpp.NewChargePointSim(ocpp.SimConfig{ID: "NEW" + id, Protocol: proto, Serial: "X-42"})
			go func() { _ = stranger.Run(ctx, "ws://"+listen) }()
			sub.WaitFor("evbridge/bridge/discovered", wait, func(m bridgetest.Message) bool {
				return strings.Contains(string(m.Payload), "NEW"+id)
			})
		})
	}
}
