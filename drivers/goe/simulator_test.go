package goe

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClockedSim is a simulator driven by a fake clock, never started: the
// test runs its logic ticks by hand.
func newClockedSim(plugged bool) (*Simulator, *fakeClock) {
	clk := newFakeClock()
	s := NewSimulator(SimConfig{Plugged: plugged, Car: simcar.Config{Now: clk.Now}})
	return s, clk
}

// runFor advances the clock one logic tick (1 s) at a time.
func runFor(s *Simulator, clk *fakeClock, d time.Duration) {
	for t := time.Duration(0); t < d; t += time.Second {
		clk.Advance(time.Second)
		s.step()
	}
}

func mustSet(t *testing.T, s *Simulator, key, value string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dev.set(key, value); err != nil {
		t.Fatalf("set %s=%s: %v", key, value, err)
	}
}

func TestSimSettingShowsAtOnceEffectAtTick(t *testing.T) {
	s, clk := newClockedSim(true)
	runFor(s, clk, 30*time.Second)
	if sn := s.Snapshot(); sn.Car != 2 || sn.Currents[0] != 16 {
		t.Fatalf("car should charge at 16 A, got car %d currents %v", sn.Car, sn.Currents)
	}
	mustSet(t, s, "amp", "10")
	sn := s.Snapshot()
	if sn.Amp != 10 || sn.Acu != 16 {
		t.Fatalf("before the tick: amp %d acu %d, want amp 10 (setting) acu 16 (old logic result)", sn.Amp, sn.Acu)
	}
	runFor(s, clk, time.Second)
	if sn := s.Snapshot(); sn.Acu != 10 {
		t.Fatalf("after one tick acu = %d, want 10", sn.Acu)
	}
	runFor(s, clk, 20*time.Second)
	if sn := s.Snapshot(); sn.Currents != [3]float64{10, 10, 10} || sn.Power != 6900 {
		t.Fatalf("car should follow to 10 A on 3 phases: currents %v power %v", sn.Currents, sn.Power)
	}
}

func TestSimAmpAboveAmaIsCapped(t *testing.T) {
	s, clk := newClockedSim(true)
	mustSet(t, s, "ama", "8")
	mustSet(t, s, "amp", "14")
	runFor(s, clk, 20*time.Second)
	sn := s.Snapshot()
	if sn.Amp != 14 || sn.Acu != 8 || sn.Currents[0] != 8 {
		t.Fatalf("amp %d acu %d current %v, want amp kept at 14, 8 A offered and drawn", sn.Amp, sn.Acu, sn.Currents[0])
	}
}

func TestSimForceOff(t *testing.T) {
	s, clk := newClockedSim(true)
	runFor(s, clk, 20*time.Second)
	mustSet(t, s, "frc", "1")
	runFor(s, clk, 2*time.Second) // the meter shows the stop one tick later
	sn := s.Snapshot()
	if sn.Alw || sn.Car != 3 || sn.Power != 0 || sn.ModelStatus != msForceOff {
		t.Fatalf("forced off: alw %t car %d power %v model %d", sn.Alw, sn.Car, sn.Power, sn.ModelStatus)
	}
	mustSet(t, s, "frc", "2")
	runFor(s, clk, 20*time.Second)
	if sn := s.Snapshot(); !sn.Alw || sn.Car != 2 || sn.ModelStatus != msForceOn {
		t.Fatalf("forced on: alw %t car %d model %d", sn.Alw, sn.Car, sn.ModelStatus)
	}
}

func TestSimPhaseSwitchPauses(t *testing.T) {
	s, clk := newClockedSim(true)
	runFor(s, clk, 20*time.Second)
	mustSet(t, s, "psm", "1")
	runFor(s, clk, time.Second)
	sn := s.Snapshot()
	if !sn.PhaseSwitching || sn.Alw || sn.Power != 0 || sn.ModelStatus != msPhaseSwitch || sn.Pnp != 1 {
		t.Fatalf("during the switch: switching %t alw %t power %v model %d pnp %d",
			sn.PhaseSwitching, sn.Alw, sn.Power, sn.ModelStatus, sn.Pnp)
	}
	runFor(s, clk, 30*time.Second)
	sn = s.Snapshot()
	if sn.PhaseSwitching || !sn.Alw || sn.Currents != [3]float64{16, 0, 0} || sn.Power != 3680 {
		t.Fatalf("after the switch: switching %t alw %t currents %v power %v", sn.PhaseSwitching, sn.Alw, sn.Currents, sn.Power)
	}
}

func TestSimSessionAndTotalEnergy(t *testing.T) {
	s, clk := newClockedSim(true)
	runFor(s, clk, 10*time.Minute)
	first := s.Snapshot()
	if first.Wh < 1000 || first.Eto < etoBase+1000 {
		t.Fatalf("after 10 min at 11 kW: wh %v eto %v", first.Wh, first.Eto)
	}
	s.Plug(false)
	runFor(s, clk, time.Second)
	if sn := s.Snapshot(); sn.Car != 1 || sn.Power != 0 || sn.Plugged {
		t.Fatalf("unplugged: car %d power %v plugged %t", sn.Car, sn.Power, sn.Plugged)
	}
	s.Plug(true)
	runFor(s, clk, time.Second)
	sn := s.Snapshot()
	if sn.Wh != 0 || sn.Eto < first.Eto {
		t.Fatalf("new session: wh %v (want 0), eto %v (want >= %v)", sn.Wh, sn.Eto, first.Eto)
	}
}

func TestSimCompleteWhenFull(t *testing.T) {
	clk := newFakeClock()
	s := NewSimulator(SimConfig{Plugged: true, Car: simcar.Config{Now: clk.Now, BatteryKWh: 1, SoC: 99}})
	runFor(s, clk, 5*time.Minute)
	if sn := s.Snapshot(); sn.Car != 4 || sn.Power != 0 {
		t.Fatalf("full battery: car %d power %v, want 4 and 0", sn.Car, sn.Power)
	}
}

// startSim starts a simulator on loopback and stops it with the test.
func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	s := NewSimulator(cfg)
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func httpGet(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != http.StatusNotFound {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: %d %q: %v", url, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestSimHTTPStatus(t *testing.T) {
	s := startSim(t, SimConfig{Serial: "000042", Variant: 22})
	base := "http://" + s.Addr()

	code, all := httpGet(t, base+"/api/status")
	if code != http.StatusOK {
		t.Fatalf("full status: %d", code)
	}
	for _, k := range strings.Split(statusFilter, ",") {
		if _, ok := all[k]; !ok {
			t.Errorf("full status lacks %q", k)
		}
	}
	if nrg, _ := all["nrg"].([]any); len(nrg) != 16 {
		t.Errorf("nrg has %d values, want 16", len(nrg))
	}
	if all["sse"] != "000042" || all["var"] != 22.0 || all["ama"] != 32.0 || all["car"] != 1.0 {
		t.Errorf("identity/variant: sse %v var %v ama %v car %v", all["sse"], all["var"], all["ama"], all["car"])
	}

	code, got := httpGet(t, base+"/api/status?filter=amp,car,sse")
	if code != http.StatusOK || !slices.Equal(keys(got), []string{"amp", "car", "sse"}) {
		t.Errorf("filtered: %d %v", code, keys(got))
	}
	code, got = httpGet(t, base+"/api/status?filter=amp,nosuchkey,car")
	if code != http.StatusBadRequest || !slices.Equal(keys(got), []string{"amp", "car"}) {
		t.Errorf("unknown filter key: %d %v, want 400 with amp,car", code, keys(got))
	}
	if code, _ := httpGet(t, base+"/status"); code != http.StatusNotFound {
		t.Errorf("/status (API v1 path): %d, want 404", code)
	}
}

func TestSimHTTPSet(t *testing.T) {
	s := startSim(t, SimConfig{})
	base := "http://" + s.Addr()
	var mu sync.Mutex
	var seen []string
	s.OnSet(func(k, v string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, k+"="+v)
	})
	cases := []struct {
		query string
		code  int
		reply map[string]any
	}{
		{"amp=10", 200, map[string]any{"amp": true}},
		{"amp=5", 500, map[string]any{"amp": "amp: failed: value 5 exceeds range 6 to 32"}},
		{"amp=33", 500, map[string]any{"amp": "amp: failed: value 33 exceeds range 6 to 32"}},
		{"amp=7.5", 500, map[string]any{"amp": "amp: expected an integer (7.5)"}},
		{"ama=20", 500, map[string]any{"ama": "ama: failed: value 20 exceeds range 6 to 16"}},
		{"frc=2&psm=1", 200, map[string]any{"frc": true, "psm": true}},
		{"frc=9&amp=12", 500, map[string]any{"amp": true, "frc": "frc: failed: value 9 exceeds range 0 to 2"}},
		{`fna="garage"`, 200, map[string]any{"fna": true}},
		{"fna=garage", 500, map[string]any{"fna": "fna: could not parse json value (garage)"}},
		{"car=1", 500, map[string]any{"car": "car: tried to set api key without setter (1)"}},
		{"zzz=1", 500, map[string]any{"zzz": "zzz: unknown api key"}},
	}
	for _, c := range cases {
		code, reply := httpGet(t, base+"/api/set?"+strings.ReplaceAll(c.query, `"`, "%22"))
		if code != c.code || !mapsEqual(reply, c.reply) {
			t.Errorf("set %s: %d %v, want %d %v", c.query, code, reply, c.code, c.reply)
		}
	}
	sn := s.Snapshot()
	if sn.Amp != 12 || sn.Frc != 2 || sn.Psm != 1 || sn.Fna != "garage" {
		t.Errorf("settings: amp %d frc %d psm %d fna %q", sn.Amp, sn.Frc, sn.Psm, sn.Fna)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 13 || seen[0] != "amp=10" || seen[12] != "zzz=1" {
		t.Errorf("OnSet saw %v", seen)
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSimRestartSameAddress(t *testing.T) {
	s := startSim(t, SimConfig{})
	addr := s.Addr()
	if err := s.Start(t.Context(), addr); err == nil {
		t.Fatal("second Start while running must fail")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/api/status?filter=car"); err == nil {
		t.Fatal("closed simulator still answers")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	if code, m := httpGet(t, "http://"+addr+"/api/status?filter=car"); code != 200 || m["car"] != 1.0 {
		t.Fatalf("after restart: %d %v", code, m)
	}
}

func TestSimStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := NewSimulator(SimConfig{})
	if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get("http://" + addr + "/api/status?filter=car"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("simulator still serves after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatalf("start after context end: %v", err)
	}
	_ = s.Close()
}
