package keba

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// offlineSim is a simulator on a fake clock, never started: the test sends
// commands and runs ticks by hand.
func offlineSim(plugged bool) (*Simulator, *fakeClock) {
	clk := newFakeClock()
	return NewSimulator(SimConfig{Plugged: plugged, Car: simcar.Config{Now: clk.Now}}), clk
}

func (s *Simulator) do(t *testing.T, cmd string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.dev.handle(cmd, s.cfg, s.now()))
}

func run(s *Simulator, clk *fakeClock, d time.Duration) {
	for e := time.Duration(0); e < d; e += time.Second {
		clk.Advance(time.Second)
		s.step()
	}
}

func TestSimCurrtimeWaitsItsDelay(t *testing.T) {
	s, clk := offlineSim(true)
	run(s, clk, 30*time.Second)
	if got := s.do(t, "currtime 12000 20"); got != "TCH-OK :done\n" {
		t.Fatalf("answer %q", got)
	}
	var r2 map[string]any
	_ = json.Unmarshal([]byte(s.do(t, "report 2")), &r2)
	if r2["Curr timer"] != 12000.0 || r2["Tmo CT"] != 20.0 || r2["Curr user"] != 63000.0 {
		t.Fatalf("pending currtime: %v", r2)
	}
	run(s, clk, 19*time.Second)
	if sn := s.Snapshot(); sn.CurrUser != 63000 || sn.MaxCurr != 16000 {
		t.Fatalf("before the delay: Curr user %d Max curr %d", sn.CurrUser, sn.MaxCurr)
	}
	run(s, clk, time.Second)
	if sn := s.Snapshot(); sn.CurrUser != 12000 || sn.MaxCurr != 12000 || sn.TimerPending {
		t.Fatalf("after the delay: %+v", sn)
	}
	run(s, clk, 20*time.Second)
	if sn := s.Snapshot(); sn.Currents != [3]float64{12, 12, 12} || sn.State != 3 {
		t.Fatalf("car should draw 12 A: %+v", sn)
	}
}

func TestSimEnableAndCurrtime(t *testing.T) {
	s, clk := offlineSim(true)
	s.do(t, "ena 0")
	run(s, clk, 10*time.Second)
	if sn := s.Snapshot(); sn.State != 1 || sn.EnableSys || sn.MaxCurr != 0 || sn.Power != 0 {
		t.Fatalf("after ena 0: %+v", sn)
	}
	s.do(t, "currtime 8000 1") // ends the "ena 0" (guide §3.3.1)
	run(s, clk, 15*time.Second)
	if sn := s.Snapshot(); !sn.EnableUser || sn.State != 3 || sn.Currents[0] != 8 {
		t.Fatalf("after currtime: %+v", sn)
	}
	s.do(t, "ena 7") // any value but 1 disables (P20 guide §2.7)
	if sn := s.Snapshot(); sn.EnableUser {
		t.Fatal("ena 7 must disable")
	}
}

func TestSimUnplugEndsCurrtimeNotCurr(t *testing.T) {
	s, clk := offlineSim(true)
	s.do(t, "currtime 10000 1")
	run(s, clk, 2*time.Second)
	s.Plug(false)
	if sn := s.Snapshot(); sn.CurrUser != 63000 {
		t.Fatalf("unplug must end currtime's setting: Curr user %d", sn.CurrUser)
	}
	s.Plug(true)
	s.do(t, "curr 9000")
	s.Plug(false)
	if sn := s.Snapshot(); sn.CurrUser != 9000 {
		t.Fatalf("curr lasts until restart: Curr user %d", sn.CurrUser)
	}
	s.do(t, "curr 500") // P20 guide §2.8: invalid sets 6000 mA
	if sn := s.Snapshot(); sn.CurrUser != 6000 {
		t.Fatalf("invalid curr: Curr user %d", sn.CurrUser)
	}
}

func TestSimRejectsNonsenseQuietly(t *testing.T) {
	s, _ := offlineSim(false)
	for _, cmd := range []string{"currtime 5000 1", "currtime 8000 999999", "failsafe 5 6000 0", "failsafe 30 100 0"} {
		if got := s.do(t, cmd); got != "TCH-OK :done\n" { // TCH-OK confirms receipt only
			t.Errorf("%q answered %q", cmd, got)
		}
	}
	if sn := s.Snapshot(); sn.TimerPending || sn.TmoFS != 0 {
		t.Fatalf("out-of-range values were taken: %+v", sn)
	}
	for _, cmd := range []string{"", "hello", "report 9", "display 0 0 0 0 hi"} {
		if got := s.do(t, cmd); got != "" {
			t.Errorf("%q answered %q, want nothing", cmd, got)
		}
	}
	if got := s.do(t, "i"); got != `{"Firmware":"P30 v 3.10.57 (221215-094006)"}` {
		t.Errorf("i answered %q", got)
	}
}

func TestSimReportsKeepTheGuidesUnits(t *testing.T) {
	s, clk := offlineSim(true)
	run(s, clk, 60*time.Second)
	var r3 map[string]any
	if err := json.Unmarshal([]byte(s.do(t, "report 3")), &r3); err != nil {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	if r3["ID"] != "3" || r3["I1"] != 16000.0 || r3["U1"] != 230.0 || r3["P"] != sn.Power*1000 ||
		r3["E pres"] != float64(sn.SessionTenthWh) || r3["PF"] != 990.0 {
		t.Fatalf("report 3 %v for %+v", r3, sn)
	}
	// 60 s at 11 kW is about 184 Wh: E pres counts 0.1 Wh.
	if e := r3["E pres"].(float64); e < 1700 || e > 1900 {
		t.Fatalf("E pres %v, want about 1840 (0.1 Wh)", e)
	}
}
