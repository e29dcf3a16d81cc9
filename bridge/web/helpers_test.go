package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/metrics"
	"github.com/evbridge/evbridge/bridge/web"
	"github.com/evbridge/evbridge/drivers/goe"
)

const wait = 15 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() || os.Getenv("EVBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// gridMeter is an in-process grid meter for the site controller: the
// power it reports is set by the test.
type gridMeter struct{ watts atomic.Int64 }

func (g *gridMeter) Read(context.Context) (meter.Reading, error) {
	p := float64(g.watts.Load())
	return meter.Reading{Power: &p}, nil
}

// env is a real bridge (go-e simulator, Mosquitto) with its web server on
// a loopback port.
type env struct {
	t       testing.TB
	ctx     context.Context
	b       *bridge.Bridge
	sim     *goe.Simulator
	srv     *web.Server
	url     string
	grid    *gridMeter
	metrics *metrics.Metrics
	mqtt    *bridgetest.Mosquitto
}

type envOptions struct {
	http config.HTTP
	// site turns the solar controller on with an in-process grid meter.
	site bool
	// broker overrides the Mosquitto URL (e.g. a dead port).
	broker string
	// wrap changes what the web server sees of the bridge.
	wrap func(web.Bridge) web.Bridge
}

func goeCharger(name, addr string) config.Charger {
	d, _ := charger.Default.Lookup("goe")
	c := config.Charger{Name: name, Driver: "goe", Address: addr, MaxCurrent: 16,
		PollInterval: 200 * time.Millisecond, Timeout: time.Second, Mode: "now", Phases: 3}
	if d.NewOptions != nil {
		c.Options = d.NewOptions()
	}
	return c
}

func startSim(t testing.TB, ctx context.Context, serial string) *goe.Simulator {
	t.Helper()
	sim := goe.NewSimulator(goe.SimConfig{Serial: serial, Firmware: "056.8", Variant: 11, Plugged: true})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := bridgetest.Context(t)
	e := &env{t: t, ctx: ctx, grid: &gridMeter{}}
	e.sim = startSim(t, ctx, "012345")
	cfg := config.Default()
	cfg.Discovery.MDNS = false
	if o.broker == "" {
		e.mqtt = bridgetest.StartMosquitto(t)
		o.broker = e.mqtt.URL()
	}
	cfg.MQTT.Broker = o.broker
	cfg.Chargers = []config.Charger{goeCharger("garage", e.sim.Addr())}
	meters := &meter.Registry{}
	if o.site {
		e.grid.watts.Store(500)
		meters.Add(meter.Driver{Name: "testgrid", New: func(meter.Settings, any, *slog.Logger) (meter.Meter, error) { return e.grid, nil }})
		cfg.Site.GridMeter = "grid"
		cfg.Site.Tick = time.Second
		cfg.Meters = []config.Meter{{Name: "grid", Driver: "testgrid", Scale: 1, PollInterval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}}
	}
	e.metrics = metrics.New("test")
	b, err := bridge.New(bridge.Options{Config: cfg, Log: testLogger(t), Version: "test", Observer: e.metrics, Meters: meters,
		BackoffMax: 500 * time.Millisecond, BirthJitter: 50 * time.Millisecond, CleanupWindow: 100 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.metrics.Watch(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	e.b = b
	var wb web.Bridge = b
	if o.wrap != nil {
		wb = o.wrap(b)
	}
	e.srv, err = web.New(web.Options{Bridge: wb, HTTP: o.http, Metrics: e.metrics.Handler(), Log: testLogger(t), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.url = serve(t, ctx, e.srv)
	return e
}

// serve runs srv on a loopback port until the test ends.
func serve(t testing.TB, ctx context.Context, srv *web.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// waitFor polls cond until it holds; the deadline only bounds a hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPolled waits until the charger has state and the bridge is ready.
func (e *env) waitPolled() {
	e.t.Helper()
	waitFor(e.t, "first poll and broker connection", func() bool {
		v, ok := e.b.Charger("garage")
		return ok && v.Polled && v.Available && e.b.Ready()
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
}

// problem checks that r is a problem document with status whose detail
// contains want, and returns it.
func (r response) problem(t testing.TB, status int, want string) web.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.body)
	}
	var p web.Problem
	r.json(t, &p)
	if p.Status != status || p.Title == "" || !strings.HasPrefix(p.Type, "urn:evbridge:problem:") {
		t.Errorf("malformed problem: %+v", p)
	}
	if !strings.Contains(p.Detail, want) {
		t.Errorf("problem detail %q does not say %q", p.Detail, want)
	}
	return p
}

// do sends a request; body is sent as-is (string or []byte) and headers
// are pairs of name and value.
func do(t testing.TB, method, url string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		t.Fatalf("body type %T", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// post sends JSON the way the page does.
func post(t testing.TB, url, body string, headers ...string) response {
	t.Helper()
	return do(t, http.MethodPost, url, body, append([]string{"Content-Type", "application/json"}, headers...)...)
}

func cmdURL(e *env, id string) string { return fmt.Sprintf("%s/api/v1/chargers/%s/command", e.url, id) }

func itoa(i int) string { return fmt.Sprint(i) }
