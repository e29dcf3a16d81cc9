package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
)

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = runMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("chargers:\n  - name: garage\n    driver: goe\n    address: 192.0.2.10\n"), 0o600)
	os.WriteFile(bad, []byte("mqtt:\n  brokr: tcp://x:1883\nchargers:\n  - name: Garage!\n    driver: nosuch\n"), 0o600)

	cases := []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: []string{"version"}, code: 0, out: "evbridge dev"},
		{args: []string{"help"}, code: 0, out: "evbridge run -c FILE"},
		{args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`},
		{args: []string{"run"}, code: 2, err: "-c FILE is required"},
		{args: []string{"check-config", "-c", good}, code: 0, out: "chargers: 1 garage (goe)"},
		{args: []string{"check-config", "-c", bad}, code: 1, err: "bad.yaml:2:3: mqtt.brokr: unknown key"},
		{args: []string{"check-config", "-c", bad}, code: 1, err: "unknown driver \"nosuch\""},
		{args: []string{"check-config", "-c", filepath.Join(dir, "missing.yaml")}, code: 1, err: "missing.yaml"},
		{args: []string{"run", "-c", bad}, code: 1, err: "bad.yaml:5"},
		{args: []string{"sim", "--list"}, code: 0, out: "goe"},
		{args: []string{"sim", "nosuch"}, code: 1, err: `no simulator "nosuch"`},
		{args: []string{"demo", "--chargers", "0"}, code: 1, err: "--chargers 0"},
		{args: []string{"demo", "--sim", "nosuch"}, code: 1, err: `--sim "nosuch"`},
	}
	for _, c := range cases {
		code, out, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("evbridge %s: exit %d, stdout %q, stderr %q; want exit %d, stdout ~%q, stderr ~%q",
				strings.Join(c.args, " "), code, out, errOut, c.code, c.out, c.err)
		}
	}
}

// Two demos run side by side on different broker ports, each with its
// simulated charger reporting state.
func TestTwoDemosSideBySide(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
		var out, errb syncBuffer
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := runMain(ctx, []string{"demo", "--mqtt-listen", addr, "--log-level", "warn"}, &out, &errb); code != 0 {
				t.Errorf("demo on %s exited %d: %s", addr, code, errb.String())
			}
		}()
		sub := bridgetest.Subscribe(t, "tcp://"+addr, "evbridge/#")
		sub.WaitFor("evbridge/demo_goe/state", 15*time.Second, nil)
		sub.WaitFor("evbridge/demo_goe/availability", 15*time.Second, func(m bridgetest.Message) bool { return string(m.Payload) == "online" })
		if !strings.Contains(out.String(), "mosquitto_sub -h 127.0.0.1") {
			t.Errorf("demo did not print how to watch it: %q", out.String())
		}
	}
	cancel()
	wg.Wait()
}
