package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/supervisor"
)

// gridMeter is a meter that always reads 0 W, so that the solar
// controller runs and charging modes exist; the add-on has no meter driver
// that needs no device.
type gridMeter struct{}

func (gridMeter) Read(context.Context) (meter.Reading, error) {
	p := 0.0
	return meter.Reading{Power: &p}, nil
}

func init() {
	meter.Register(meter.Driver{Name: "addontest_grid", New: func(meter.Settings, any, *slog.Logger) (meter.Meter, error) {
		return gridMeter{}, nil
	}})
}

// daemon starts what `evbridge run` starts, from the add-on's options:
// the config, the state file and the bridge. It returns the bridge and a
// function that stops it as a shutdown does.
func (e *addonEnv) daemon(t *testing.T, ctx context.Context, logw io.Writer) (*bridge.Bridge, func()) {
	t.Helper()
	cfg, err := e.settings().load(ctx, newFlags("run", io.Discard), "", logw)
	if err != nil {
		t.Fatal(err)
	}
	log := newLogger(cfg.Log, logw)
	b, err := bridge.New(bridge.Options{Config: cfg, Log: log, Version: "test", Store: openState(cfg.StateFile(), log)})
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithCancel(ctx)
	if err := b.Start(bctx); err != nil {
		t.Fatal(err)
	}
	var stopped bool
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			b.Stop()
		}
	}
	t.Cleanup(stop)
	return b, stop
}

func payloadIs(s string) func(bridgetest.Message) bool {
	return func(m bridgetest.Message) bool { return string(m.Payload) == s }
}

// What users change at runtime (a charger accepted with AddCharger, a
// charging mode) is kept in /data/evbridge-state.json and comes back after
// a restart of the add-on.
func TestAddonStateSurvivesRestart(t *testing.T) {
	e := newAddonEnv(t)
	ctx := bridgetest.Context(t)
	garage, drive := startGoeSim(t, ctx, "200001"), startGoeSim(t, ctx, "200002")
	e.writeOptions(t, `{"log_level":"info","chargers":[`+chargerOptions("garage", garage.Addr())+`],`+
		`"meters":[{"name":"grid","driver":"addontest_grid"}],`+
		`"discovery":{"mdns":false,"subnets":[],"found":"pending"},"site":{"grid_meter":"grid"}}`)
	sub := e.subscribe(t)

	var logs syncBuffer
	b, stop := e.daemon(t, ctx, &logs)
	sub.WaitFor("evbridge/bridge/state", addonWait, payloadIs("online"))
	if _, err := b.AddCharger(bridge.ChargerSpec{Name: "drive", Driver: "goe", Address: drive.Addr(), PollInterval: "200ms"}); err != nil {
		t.Fatal(err)
	}
	mode := "pv"
	if err := b.Submit("garage", bridge.Command{Mode: &mode}, "test"); err != nil {
		t.Fatal(err)
	}
	stop()
	statePath := filepath.Join(e.dir, supervisor.StateFile)
	data, err := os.ReadFile(statePath)
	if err != nil || !strings.Contains(string(data), `"drive"`) || !strings.Contains(string(data), `"pv"`) {
		t.Fatalf("state file %s: %v\n%s", statePath, err, data)
	}

	restarted := time.Now()
	b2, _ := e.daemon(t, ctx, &logs)
	if _, ok := b2.Charger("drive"); !ok {
		t.Fatal("the charger accepted at runtime is gone after the restart")
	}
	if _, ok := sub.WaitForAfter(restarted, "evbridge/drive/availability", addonWait, payloadIs("online")); !ok {
		t.Error("the restored charger did not come online")
	}
	m, ok := sub.WaitForAfter(restarted, "evbridge/garage/state", addonWait, func(m bridgetest.Message) bool {
		return strings.Contains(string(m.Payload), `"mode":`)
	})
	if !ok || !strings.Contains(string(m.Payload), `"mode":"pv"`) {
		t.Errorf("mode after restart: %s", m.Payload)
	}
}

// A corrupt state file is set aside and reported; evbridge starts with
// empty state rather than not at all.
func TestAddonCorruptStateSetAside(t *testing.T) {
	e := newAddonEnv(t)
	ctx := bridgetest.Context(t)
	e.writeOptions(t, addonOptions())
	statePath := filepath.Join(e.dir, supervisor.StateFile)
	if err := os.WriteFile(statePath, []byte(`{"version":1,"sections":{"chargers":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := e.subscribe(t)
	var logs syncBuffer
	e.daemon(t, ctx, &logs)
	sub.WaitFor("evbridge/bridge/state", addonWait, payloadIs("online"))
	aside, _ := filepath.Glob(statePath + ".corrupt-*")
	if len(aside) != 1 || !strings.Contains(logs.String(), "state file is corrupt") {
		t.Fatalf("set aside: %v; log:\n%s", aside, logs.String())
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Errorf("the corrupt file is still in place: %v", err)
	}
}

// A /data where the state file cannot be used is reported with a fix, and
// evbridge runs with its state in memory.
func TestAddonUnwritableData(t *testing.T) {
	t.Run("state file unusable", func(t *testing.T) {
		e := newAddonEnv(t)
		ctx := bridgetest.Context(t)
		e.writeOptions(t, addonOptions())
		// A directory where the state file should be: unreadable and
		// unreplaceable, whoever runs the test (root ignores modes).
		if err := os.Mkdir(filepath.Join(e.dir, supervisor.StateFile), 0o755); err != nil {
			t.Fatal(err)
		}
		sub := e.subscribe(t)
		var logs syncBuffer
		b, _ := e.daemon(t, ctx, &logs)
		sub.WaitFor("evbridge/bridge/state", addonWait, payloadIs("online"))
		if !strings.Contains(logs.String(), "cannot use the state file; runtime changes are kept in memory only") ||
			!strings.Contains(logs.String(), "fix=") {
			t.Errorf("log:\n%s", logs.String())
		}
		if _, err := b.AddCharger(bridge.ChargerSpec{Name: "drive", Driver: "goe", Address: "127.0.0.1:1"}); err != nil {
			t.Errorf("runtime changes refused with state in memory: %v", err)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes to read-only directories; the case above covers root")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		var logs syncBuffer
		st := openState(filepath.Join(dir, supervisor.StateFile), newLogger(config.Log{}, &logs))
		if st == nil || !strings.Contains(logs.String(), "state directory is not writable") {
			t.Errorf("store %v, log:\n%s", st, logs.String())
		}
	})
}
