package openevse

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

func call(t *testing.T, method, url, body string) (int, any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewBufferString(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if len(b) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, v
}

func msg(v any) any {
	m, _ := v.(map[string]any)
	return m["msg"]
}

func TestSimClaimsHTTP(t *testing.T) {
	s := startSim(t, SimConfig{})
	base := "http://" + s.Addr()
	steps := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/claims/20", "", 404, "Not found"},
		{"POST", "/claims/20", `{"state":"disabled","charge_current":10}`, 200, "done"},
		{"POST", "/claims/20", `{"charge_current":`, 400, "Could not parse JSON"},
		{"POST", "/claims/21", `{"charge_current":"clear","max_current":8,"auto_release":true}`, 200, "done"},
		{"POST", "/claims", `{"state":"active"}`, 405, "Method not allowed"},
		{"POST", "/claims/-1", `{"state":"active"}`, 405, "Method not allowed"}, // EvseClient_NULL
		{"PUT", "/claims/20", `{}`, 405, "Method not allowed"},
		{"DELETE", "/claims/22", "", 404, "Not found"},
		{"DELETE", "/claims/21", "", 200, "done"},
		{"GET", "/override", "", 404, "Not found"},
		{"DELETE", "/override", "", 500, "Failed to release manual overide"},
		{"POST", "/override", `{"state":"active","charge_current":14}`, 201, "Created"},
		{"PATCH", "/override", "", 200, "Updated"}, // toggles it off
		{"PATCH", "/override", "", 200, "Updated"}, // and on: the opposite state
		{"POST", "/status", `{}`, 405, "Method not allowed"},
	}
	for _, c := range steps {
		code, v := call(t, c.method, base+c.path, c.body)
		if code != c.code || msg(v) != c.msg {
			t.Errorf("%s %s %s: %d %v, want %d %q", c.method, c.path, c.body, code, v, c.code, c.msg)
		}
	}
	code, v := call(t, "GET", base+"/claims/20", "")
	want := map[string]any{"state": "disabled", "charge_current": 10.0, "priority": 500.0, "auto_release": false}
	if code != 200 || !jsonEqual(v, want) {
		t.Errorf("GET /claims/20: %d %v, want %v", code, v, want)
	}
	// The toggled override holds the opposite of the claims' state.
	code, v = call(t, "GET", base+"/override", "")
	if code != 200 || !jsonEqual(v, map[string]any{"state": "active", "auto_release": true}) {
		t.Errorf("GET /override: %d %v", code, v)
	}
	code, v = call(t, "GET", base+"/claims", "")
	if list, _ := v.([]any); code != 200 || len(list) != 2 {
		t.Errorf("GET /claims: %d %v", code, v)
	}
	code, v = call(t, "GET", base+"/claims/target", "")
	tgt, _ := v.(map[string]any)
	if code != 200 || !jsonEqual(tgt["claims"], map[string]any{"state": float64(clientManual), "charge_current": 20.0}) {
		t.Errorf("GET /claims/target: %d %v", code, v)
	}
	sn := s.Snapshot()
	if sn.Status != "active" || sn.Pilot != 10 || !sn.ManualOverride || sn.ClaimsVersion != 6 || sn.OverrideVersion != 3 {
		t.Errorf("snapshot %+v", sn)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestSimClientIDParsing(t *testing.T) {
	for in, want := range map[string]uint32{"20": 20, "020": 20, "20abc": 20, "abc": 0, "-1": math.MaxUint32,
		"2147483647": math.MaxInt32, "99999999999": math.MaxInt32, "4522050": DefaultClientID} {
		if got, all := clientID(in); got != want || all {
			t.Errorf("clientID(%q) = %d, %t; want %d", in, got, all, want)
		}
	}
	if _, all := clientID(""); !all {
		t.Error(`clientID("") is not "all"`)
	}
}

func TestSimStatusAndConfig(t *testing.T) {
	s := startSim(t, SimConfig{Plugged: true, ThreePhase: true})
	base := "http://" + s.Addr()
	code, v := call(t, "GET", base+"/status", "")
	st, _ := v.(map[string]any)
	for _, k := range []string{"state", "vehicle", "status", "amp", "voltage", "power", "pilot", "max_current",
		"session_energy", "total_energy", "temp", "srssi", "manual_override", "config_version", "claims_version"} {
		if _, ok := st[k]; code != 200 || !ok {
			t.Errorf("/status lacks %q", k)
		}
	}
	if st["temp2"] != false || st["vehicle"] != 1.0 || st["status"] != "active" {
		t.Errorf("/status: temp2 %v vehicle %v status %v", st["temp2"], st["vehicle"], st["status"])
	}
	code, v = call(t, "GET", base+"/config", "")
	cfg, _ := v.(map[string]any)
	if code != 200 || cfg["max_current_soft"] != 32.0 || cfg["is_threephase"] != true || cfg["hostname"] != "openevse-a7d4" {
		t.Errorf("/config: %d %v", code, cfg)
	}
	if code, _ := call(t, "GET", base+"/nothing", ""); code != 404 {
		t.Errorf("unknown path: %d", code)
	}

	auth := startSim(t, SimConfig{Username: "u", Password: "p"})
	resp, err := http.Get("http://" + auth.Addr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Basic realm=openevse-a7d4" {
		t.Errorf("without login: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) run(s *Simulator, d time.Duration) {
	for i := time.Duration(0); i < d; i += time.Second {
		c.mu.Lock()
		c.t = c.t.Add(time.Second)
		c.mu.Unlock()
		s.step()
	}
}

func TestSimSessionAndAutoRelease(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	s := NewSimulator(SimConfig{Plugged: true, Car: simcar.Config{Now: clk.Now}})
	clk.run(s, 10*time.Minute)
	sn := s.Snapshot()
	if sn.State != 3 || sn.Amps != 16 || sn.Power != 3840 || sn.SessionWh < 500 || sn.TotalKWh < totalEnergyStart+0.5 {
		t.Fatalf("10 min at 16 A/240 V: %+v", sn)
	}
	s.mu.Lock()
	s.dev.claim(SimClaim{Client: 5, Priority: 500, State: "disabled", AutoRelease: true})
	s.dev.claim(SimClaim{Client: 6, Priority: 400, ChargeCurrent: 8})
	s.dev.resolve(s.cfg)
	s.mu.Unlock()
	clk.run(s, 2*time.Second)
	if sn := s.Snapshot(); sn.State != 254 || sn.Power != 0 || sn.Status != "disabled" {
		t.Fatalf("disabled by a claim: %+v", sn)
	}
	s.Plug(false)
	clk.run(s, time.Second)
	sn = s.Snapshot()
	if sn.State != 1 || len(sn.Claims) != 1 || sn.Claims[0].Client != 6 || sn.Pilot != 8 {
		t.Fatalf("after unplugging, the auto-release claim is gone: %+v", sn)
	}
	s.Plug(true)
	clk.run(s, time.Second)
	if sn := s.Snapshot(); sn.SessionWh != 0 || sn.TotalKWh < totalEnergyStart+0.5 {
		t.Fatalf("new session: %+v", sn)
	}
}
