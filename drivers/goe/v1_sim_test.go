package goe

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSimV1HTTP(t *testing.T) {
	s := startSimV1(t, SimConfig{Serial: "000042"})
	base := "http://" + s.Addr()

	code, st := httpGet(t, base+"/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	for k, v := range st {
		_, isString := v.(string)
		if k != "nrg" && !isString {
			t.Errorf("%s = %v (%T): API v1 sends every value as a string", k, v, v)
		}
	}
	if nrg, _ := st["nrg"].([]any); len(nrg) != 16 {
		t.Errorf("nrg = %v, want 16 numbers", st["nrg"])
	}
	if st["sse"] != "000042" || st["car"] != "1" || st["amp"] != "16" || st["alw"] != "1" || st["ama"] != "16" {
		t.Errorf("idle box: %v", st)
	}
	for _, p := range []string{"/api/status", "/api/set?amp=10"} {
		if code, _ := httpGet(t, base+p); code != http.StatusNotFound {
			t.Errorf("%s on a v1 box: %d, want 404", p, code)
		}
	}

	cases := []struct {
		payload, key, want string
	}{
		{"amx=10", "amx", "10"},
		{"amx=40", "amx", "10"}, // out of range: unchanged, no error reply
		{"amp=12", "amp", "12"},
		{"alw=0", "alw", "0"},
		{"alw=5", "alw", "0"},
		{"ama=20", "ama", "16"}, // above the 11 kW variant's 16 A
		{"car=2", "car", "1"},   // read-only
		{"nosuch=1", "car", "1"},
	}
	for _, c := range cases {
		code, got := httpGet(t, base+"/mqtt?payload="+c.payload)
		if code != http.StatusOK || got[c.key] != c.want {
			t.Errorf("payload %s: %d %s=%v, want %s", c.payload, code, c.key, got[c.key], c.want)
		}
	}
	if resp, err := http.Get(base + "/mqtt"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/mqtt without payload: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	sn := s.Snapshot()
	if sn.Amp != 12 || sn.AmpFlash != 12 || sn.Frc != 1 {
		t.Errorf("after the commands: amp %d flash %d frc %d", sn.Amp, sn.AmpFlash, sn.Frc)
	}
}

func TestSimV1Units(t *testing.T) {
	s, clk := newClockedSim(true)
	s.cfg.API = 1
	runFor(s, clk, 10*time.Minute)
	s.mu.Lock()
	v := s.dev.valuesV1(s.cfg, s.now())
	sn := s.dev.snapshot(s.cfg, s.now())
	s.mu.Unlock()
	nrg := v["nrg"].([]int)
	if nrg[4] != 160 || nrg[7] != 37 || nrg[11] != 1104 || v["pha"] != "63" {
		t.Errorf("16 A on 3 phases: nrg %v pha %v", nrg, v["pha"])
	}
	if want := strconv.Itoa(int(sn.Eto / 100)); v["eto"] != want || sn.Eto < etoBase+1500 {
		t.Errorf("eto %v for %v Wh, want %s (0.1 kWh)", v["eto"], sn.Eto, want)
	}
	if want := strconv.Itoa(int(math.Round(sn.Wh * 360))); v["dws"] != want || sn.Wh < 1500 {
		t.Errorf("dws %v for %v Wh, want %s (deka-watt-seconds)", v["dws"], sn.Wh, want)
	}
}
