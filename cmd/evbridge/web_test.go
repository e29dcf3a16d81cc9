package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/drivers/goe"
)

const webWait = 15 * time.Second

// webGet GETs url and returns the status and body.
func webGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), webWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func webPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), webWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func webEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(webWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var webURLRE = regexp.MustCompile(`Web UI: +(http://\S+/) `)

// startDemo runs `evbridge demo` with args until the test ends and returns
// its stdout so far once it has printed its banner.
func startDemo(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runMain(ctx, append([]string{"demo", "--log-level", "warn"}, args...), &out, &errb) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d: %s", code, errb.String())
		}
	})
	webEventually(t, "the demo's banner", func() bool { return strings.Contains(out.String(), "Stop with Ctrl-C") })
	return &out
}

// The demo serves the dashboard, the API and the metrics, prints where,
// and a command sent over HTTP reaches its simulated charger.
func TestDemoServesWeb(t *testing.T) {
	mqtt := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	out := startDemo(t, "--mqtt-listen", mqtt, "--http-listen", "127.0.0.1:0")
	m := webURLRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the demo did not print its web URL: %s", out.String())
	}
	base := m[1]
	if code, _ := webGet(t, base+"healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, page := webGet(t, base); code != 200 || !strings.Contains(page, "evbridge") {
		t.Fatalf("dashboard: %d", code)
	}
	webEventually(t, "the demo to be ready", func() bool { code, _ := webGet(t, base+"readyz"); return code == 200 })
	var view struct {
		Polled bool
		State  struct {
			CurrentLimit *float64 `json:"current_limit"`
		}
	}
	webEventually(t, "the simulated charger's first poll", func() bool {
		_, body := webGet(t, base+"api/v1/chargers/demo_goe")
		return json.Unmarshal([]byte(body), &view) == nil && view.Polled
	})
	if code, body := webPost(t, base+"api/v1/chargers/demo_goe/command", `{"current_limit":7}`); code != 202 {
		t.Fatalf("command: %d %s", code, body)
	}
	webEventually(t, "7 A reported back by the simulated charger", func() bool {
		_, body := webGet(t, base+"api/v1/chargers/demo_goe")
		return json.Unmarshal([]byte(body), &view) == nil && view.State.CurrentLimit != nil && *view.State.CurrentLimit == 7
	})
	if _, metrics := webGet(t, base+"metrics"); !strings.Contains(metrics, `evbridge_charger_current_limit_amperes{charger="demo_goe"} 7`) {
		t.Errorf("metrics: %s", metrics)
	}
}

// A second demo whose web port is taken still runs and says how to move
// its web server; with another port it serves beside the first.
func TestDemoWebPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	mqtt := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	out := startDemo(t, "--mqtt-listen", mqtt, "--http-listen", busy.Addr().String())
	if !strings.Contains(out.String(), "not started") || !strings.Contains(out.String(), "--http-listen") {
		t.Errorf("banner: %s", out.String())
	}
	sub := bridgetest.Subscribe(t, "tcp://"+mqtt, "evbridge/#")
	sub.WaitFor("evbridge/demo_goe/state", webWait, nil)

	off := startDemo(t, "--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t)), "--http-listen", "")
	if !strings.Contains(off.String(), "Web UI:               off") {
		t.Errorf("banner with the web server off: %s", off.String())
	}
}

// `evbridge run` serves the web UI on http.listen, with the token.
func TestRunServesWeb(t *testing.T) {
	broker := bridgetest.StartMosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := goe.NewSimulator(goe.SimConfig{Serial: "424242", Plugged: true})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	listen := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "evbridge.yaml")
	yaml := fmt.Sprintf(`mqtt:
  broker: %s
http:
  listen: %s
  token: web-test-token
discovery:
  mdns: false
state:
  file: none
chargers:
  - name: box
    driver: goe
    address: %s
`, broker.URL(), listen, sim.Addr())
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runMain(ctx, []string{"run", "-c", cfg}, &out, &errb) }()
	base := "http://" + listen + "/"
	webEventually(t, "run's web server", func() bool {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if code, _ := webGet(t, base+"api/v1/chargers"); code != 401 {
		t.Errorf("without the token: %d", code)
	}
	webEventually(t, "run to be ready", func() bool { code, _ := webGet(t, base+"readyz"); return code == 200 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("run exited %d: %s", code, errb.String())
	}

	// The web port taken: run fails and says which setting to change.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	yaml = strings.Replace(yaml, listen, busy.Addr().String(), 1)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "run", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "http.listen") || !strings.Contains(errOut, "address already in use") {
		t.Errorf("run with a busy web port: exit %d: %s", code, errOut)
	}
}
