package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/ocpp"
)

// slowCloser is a charger whose Close takes a while, like a driver
// saying goodbye to its device.
type slowCloser struct {
	polled    chan struct{}
	pollOnce  sync.Once
	closed    atomic.Bool
	closeTime time.Duration
}

func (c *slowCloser) Poll(context.Context) (charger.State, error) {
	c.pollOnce.Do(func() { close(c.polled) })
	return charger.State{}, nil
}

func (c *slowCloser) Close() error {
	time.Sleep(c.closeTime)
	c.closed.Store(true)
	return nil
}

// Stop returns only after every worker has finished, its driver closed,
// even when the caller has not cancelled Start's context: a state write or
// device command that outlived Stop could land after the process (or a
// test's temporary directory) is gone. This failed in CI before Stop
// waited, as a state file written into a test directory being removed.
func TestStopWaitsForWorkers(t *testing.T) {
	dev := &slowCloser{polled: make(chan struct{}), closeTime: 300 * time.Millisecond}
	reg := &charger.Registry{}
	reg.Add(charger.Driver{Name: "slowclose", DefaultPollInterval: time.Second, DefaultPort: 1,
		New: func(charger.Settings, any, *slog.Logger) (charger.Charger, error) { return dev, nil }})
	cfg := testConfig()
	cfg.MQTT.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	cfg.Chargers = []config.Charger{{Name: "garage", Driver: "slowclose", Address: "127.0.0.1:1",
		MaxCurrent: 16, PollInterval: 100 * time.Millisecond, Timeout: time.Second}}
	b, err := bridge.New(bridge.Options{Config: cfg, Registry: reg, Log: testLogger(t), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(bridgetest.Context(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dev.polled:
	case <-time.After(wait):
		t.Fatal("the charger was never polled")
	}
	b.Stop()
	if !dev.closed.Load() {
		t.Fatal("Stop returned while the charger's worker was still running")
	}
}

// A Start that fails half-way (here: the OCPP port is taken) says which
// address, and undoes what it had started: the embedded broker's port is
// free again, so a retry or a second configuration can have it.
func TestStartFailureUndoesItself(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sc := ocpp.DefaultServerConfig()
	sc.Listen = taken.Addr().String()
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	cfg := testConfig()
	cfg.MQTT.Embedded.Listen = brokerAddr
	cfg.Services = map[string]any{"ocpp": &sc}
	cfg.Chargers = []config.Charger{{Name: "pulsar", Driver: "ocpp", Address: "CP1", MaxCurrent: 16,
		PollInterval: time.Second, Timeout: time.Second, Options: &ocpp.Options{Connector: 1}}}
	b, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start(bridgetest.Context(t))
	if err == nil {
		b.Stop()
		t.Fatal("Start succeeded on a taken OCPP port")
	}
	if !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("the error does not name the taken address: %v", err)
	}
	ln, err := net.Listen("tcp", brokerAddr)
	if err != nil {
		t.Fatalf("the embedded broker still holds %s after the failed Start: %v", brokerAddr, err)
	}
	ln.Close()
}

// Once Stop has begun, changes are refused with ErrStopping instead of
// being half carried out (a mode saved after the workers are gone).
func TestChangesRefusedAfterStop(t *testing.T) {
	ctx := bridgetest.Context(t)
	sim := startGoe(t, ctx)
	cfg := testConfig()
	cfg.MQTT.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	cfg.Chargers = []config.Charger{goeCharger("garage", sim.Addr())}
	b := startBridge(t, ctx, cfg)
	b.Stop()
	limit := 10.0
	if err := b.Submit("garage", bridge.Command{CurrentLimit: &limit}, "test"); !errors.Is(err, bridge.ErrStopping) {
		t.Errorf("Submit after Stop: %v, want ErrStopping", err)
	}
	if _, err := b.AddCharger(bridge.ChargerSpec{Name: "late", Driver: "goe", Address: sim.Addr()}); !errors.Is(err, bridge.ErrStopping) {
		t.Errorf("AddCharger after Stop: %v, want ErrStopping", err)
	}
	if _, ok := b.Charger("late"); ok {
		t.Error("a charger was added after Stop")
	}
}
