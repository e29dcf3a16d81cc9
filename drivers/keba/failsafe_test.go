package keba

import (
	"slices"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// clockedSim is a simulator whose station and car run on a fake clock; its
// logic still ticks every 50 ms of real time.
func clockedSim(t *testing.T) (*Simulator, *fakeClock) {
	clk := newFakeClock()
	return startSim(t, SimConfig{Plugged: true, Car: simcar.Config{Now: clk.Now}}, fast), clk
}

// settle waits until the station has run its logic at least once after
// the clock was moved.
func settle(t *testing.T, s *Simulator) SimSnapshot {
	t.Helper()
	start := s.Snapshot().Tick
	var sn SimSnapshot
	eventually(t, "two ticks", func() (bool, any) { sn = s.Snapshot(); return sn.Tick >= start+2, sn })
	return sn
}

func failsafeOptions() *Options {
	o := testOptions()
	o.FailsafeTimeout, o.FailsafeCurrent = 10*time.Second, 6
	return o
}

func TestNoFailsafeNoRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	d := newDriver(t, s, nil, time.Second)
	if d.RefreshInterval() != 0 {
		t.Fatalf("refresh interval %v without a failsafe", d.RefreshInterval())
	}
	if err := d.Refresh(t.Context()); err != nil || s.Stats().Datagrams != 0 {
		t.Fatalf("refresh without a failsafe: %v, %d datagrams", err, s.Stats().Datagrams)
	}
}

func TestFailsafeArmedAndRefreshed(t *testing.T) {
	t.Parallel()
	s, clk := clockedSim(t)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, failsafeOptions(), 2*time.Second)
	if got := d.RefreshInterval(); got != 5*time.Second {
		t.Fatalf("refresh interval %v, want half the 10 s timeout", got)
	}
	ctx := t.Context()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.settings(); !slices.Equal(got, []string{"failsafe 10 6000 0", "ena 1"}) {
		t.Fatalf("first refresh told the station %q", got)
	}
	if sn := s.Snapshot(); sn.TmoFS != 10 || sn.CurrFS != 6000 {
		t.Fatalf("station failsafe %d s %d mA", sn.TmoFS, sn.CurrFS)
	}
	// Refreshed every 6 s, the station never falls back.
	for range 3 {
		clk.Advance(6 * time.Second)
		if sn := settle(t, s); sn.Tripped {
			t.Fatal("failsafe fell although refreshed")
		}
		if err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.settings(); len(got) != 5 || got[4] != "ena 1" {
		t.Fatalf("refreshes told the station %q", got)
	}
}

func TestFailsafeFallsAndRecovers(t *testing.T) {
	t.Parallel()
	s, clk := clockedSim(t)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, failsafeOptions(), 2*time.Second)
	ctx := t.Context()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Second) // evbridge silent longer than the timeout
	if sn := settle(t, s); !sn.Tripped || sn.MaxCurr != 6000 || sn.EnableSys {
		t.Fatalf("station did not fall back: %s", dump(sn))
	}
	st, err := d.Poll(ctx)
	if err != nil || st.ErrorCode != "failsafe" {
		t.Fatalf("tripped failsafe not shown: %v %s", err, dump(st))
	}
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := rec.settings()
	want := []string{"failsafe 10 6000 0", "ena 1", "currtime 10000 1", "currtime 10000 1", "ena 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("station was told %q, want %q (current and enable again, guide §3.3.3)", got, want)
	}
	if sn := s.Snapshot(); sn.Tripped {
		t.Fatal("failsafe still active after current and enable were sent again")
	}
}

// A station that restarted forgot the failsafe; the next refresh arms it
// again.
func TestFailsafeArmedAgainAfterRestart(t *testing.T) {
	t.Parallel()
	s, _ := clockedSim(t)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, failsafeOptions(), 2*time.Second)
	if err := d.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.dev.fsTimeout, s.dev.fsCurr = 0, 0
	s.mu.Unlock()
	if err := d.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range rec.settings() {
		if c == "failsafe 10 6000 0" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("failsafe armed %d times, want again after the restart: %q", n, rec.settings())
	}
}
