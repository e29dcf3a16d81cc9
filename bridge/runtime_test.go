package bridge_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/store"
)

func response(t *testing.T, sub *bridgetest.Subscriber, action, request string) map[string]any {
	t.Helper()
	start := time.Now()
	sub.Publish("evbridge/bridge/request/"+action, false, request)
	msg, ok := sub.WaitForAfter(start, "evbridge/bridge/response/"+action, wait, nil)
	if !ok {
		t.Fatalf("no response to %s %s", action, request)
	}
	var r map[string]any
	if err := json.Unmarshal(msg.Payload, &r); err != nil {
		t.Fatalf("response is not JSON: %s", msg.Payload)
	}
	return r
}

// A charger found at runtime waits as pending, is accepted over MQTT, is
// kept across a restart through the state file, and can be removed.
func TestRuntimeChargersPendingAcceptPersist(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	sim := startGoe(t, ctx)
	statePath := filepath.Join(t.TempDir(), "state.json")
	st, err := store.Open(statePath, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	sub := bridgetest.Subscribe(t, m.URL(), "#")
	b, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test", Store: st, CleanupWindow: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	bctx, stop := contextWithCancel(ctx)
	if err := b.Start(bctx); err != nil {
		t.Fatal(err)
	}
	sub.WaitFor("evbridge/bridge/state", wait, payloadIs("online"))

	b.Offer(bridge.Candidate{Driver: "goe", Address: sim.Addr(), Serial: "012345", FoundBy: "mdns"}, false)
	sub.WaitFor("evbridge/bridge/discovered", wait, func(m bridgetest.Message) bool { return strings.Contains(string(m.Payload), "goe:012345") })

	if r := response(t, sub, "charger_add", `{"id":"goe:nope","transaction":7}`); r["status"] != "error" || r["transaction"] != float64(7) {
		t.Errorf("unknown pending id: %v", r)
	}
	if r := response(t, sub, "charger_add", `{"charger":{"name":"Bad Name!","driver":"goe","address":"x"}}`); r["status"] != "error" || !strings.Contains(r["error"].(string), "name") {
		t.Errorf("invalid charger spec accepted: %v", r)
	}
	if r := response(t, sub, "charger_add", `{"bogus":1}`); r["status"] != "error" || !strings.Contains(r["error"].(string), "bogus") {
		t.Errorf("unknown request field accepted: %v", r)
	}
	r := response(t, sub, "charger_add", `{"id":"goe:012345","name":"drive"}`)
	if r["status"] != "ok" {
		t.Fatalf("accept: %v", r)
	}
	sub.WaitFor("evbridge/drive/availability", wait, payloadIs("online"))
	sub.WaitFor("evbridge/bridge/discovered", wait, payloadIs("[]"))
	sub.Publish("evbridge/drive/set/current_limit", false, "9")
	waitSim(t, func() bool { return sim.Snapshot().Amp == 9 })

	// Restart: the accepted charger comes back from the state file.
	stop()
	b.Stop()
	st2, err := store.Open(statePath, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test", Store: st2})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Stop)
	restarted := time.Now()
	if _, ok := sub.WaitForAfter(restarted, "evbridge/drive/state", wait, nil); !ok {
		t.Fatal("accepted charger not restored after restart")
	}
	if amp := sim.Snapshot().Amp; amp != 9 {
		t.Errorf("restart changed the charger's current to %v (safety invariant 2)", amp)
	}

	// Move: the same serial found at another address is followed (once
	// the restored charger has told its serial).
	waitSim(t, func() bool { v, _ := b2.Charger("drive"); return v.State.Serial == "012345" })
	addr := sim.Addr()
	sim.Close()
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	b2.Offer(bridge.Candidate{Driver: "goe", Address: sim.Addr(), Serial: "012345", FoundBy: "mdns"}, false)
	if v, ok := b2.Charger("drive"); !ok || v.Address == addr {
		t.Fatalf("charger not moved: %+v", v)
	}
	sub.WaitFor("evbridge/drive/availability", wait, payloadIs("online"))

	if r := response(t, sub, "charger_remove", `{"name":"drive"}`); r["status"] != "ok" {
		t.Fatalf("remove: %v", r)
	}
	sub.WaitFor("evbridge/drive/state", wait, func(m bridgetest.Message) bool { return len(m.Payload) == 0 })
	if _, ok := b2.Charger("drive"); ok {
		t.Fatal("charger still there after removal")
	}
}
