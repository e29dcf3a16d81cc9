package ocpp

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/drivertest"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// quickCar reacts fast so tests finish quickly; no test asserts on how fast.
var quickCar = simcar.Config{Delay: 100 * time.Millisecond, Tau: 50 * time.Millisecond}

// testLog logs to the test's output until the test has cleaned up, and
// discards afterwards (background goroutines may outlive the test by a
// moment).
func testLog(t testing.TB) *slog.Logger {
	var done atomic.Bool
	w := &gatedWriter{w: t.Output(), done: &done}
	t.Cleanup(func() { done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type gatedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done *atomic.Bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done.Load() {
		return len(p), nil
	}
	return g.w.Write(p)
}

// fakeHost records offers, as the core would publish them.
type fakeHost struct {
	mu     sync.Mutex
	offers []charger.Offer
}

func (h *fakeHost) Offer(o charger.Offer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.offers = append(h.offers, o)
}

func (h *fakeHost) last(id string) (charger.Offer, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.offers) - 1; i >= 0; i-- {
		if h.offers[i].Address == id {
			return h.offers[i], true
		}
	}
	return charger.Offer{}, false
}

// testConfig is a central system on a free loopback port with short waits.
func testConfig() ServerConfig {
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.BootWait = 50 * time.Millisecond
	cfg.MeterInterval = time.Second
	cfg.CallTimeout = 5 * time.Second
	cfg.Unknown = UnknownAccept
	return cfg
}

func startCS(t testing.TB, cfg ServerConfig) (*CentralSystem, *Registry, *fakeHost) {
	t.Helper()
	reg, host := NewRegistry(), &fakeHost{}
	cs, err := NewCentralSystem(cfg, reg, host, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	return cs, reg, host
}

// simConfig is a plugged-in charge point that ticks fast.
func simConfig(id string) SimConfig {
	return SimConfig{ID: id, Plugged: true, Car: quickCar, Tick: 20 * time.Millisecond,
		ReconnectDelay: 50 * time.Millisecond}
}

func runSim(t testing.TB, url string, cfg SimConfig) *ChargePointSim {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	s := NewChargePointSim(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx, url); err != nil {
			t.Errorf("sim %s: %v", cfg.ID, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

func newDriver(t testing.TB, reg *Registry, id string, o *Options) *Driver {
	t.Helper()
	d, err := NewWithRegistry(reg, charger.Settings{Name: "test", Address: id, Timeout: 5 * time.Second, MaxCurrent: 16}, o, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// eventually polls until cond holds; the deadline only catches a hang.
func eventually(t testing.TB, what string, cond func() (bool, any)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last seen: %s", what, dump(last))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pollUntil(t testing.TB, d *Driver, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	eventually(t, what, func() (bool, any) {
		var err error
		st, err = d.Poll(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return cond(st), st
	})
	return st
}

func simUntil(t testing.TB, s *ChargePointSim, what string, cond func(SimSnapshot) bool) SimSnapshot {
	t.Helper()
	var sn SimSnapshot
	eventually(t, what, func() (bool, any) {
		sn = s.Snapshot()
		return cond(sn), sn
	})
	return sn
}

func dump(v any) string { return drivertest.Dump(v) }

func charging(st charger.State) bool {
	return st.Status == charger.StatusCharging && len(st.Currents) == 3 && st.Currents[0] > 15
}

func near(a, b float64) bool { return a-b < 0.05 && b-a < 0.05 }
