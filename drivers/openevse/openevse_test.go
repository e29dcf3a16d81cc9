package openevse

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/drivertest"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// quickCar reacts fast so tests that wait for the car stay short; nothing
// asserts on how fast.
var quickCar = simcar.Config{Delay: 200 * time.Millisecond, Tau: 100 * time.Millisecond}

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	s := NewSimulator(cfg)
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newDriver(t testing.TB, addr string, o *Options) *Driver {
	t.Helper()
	d, err := New(charger.Settings{Name: "test", Address: addr, Timeout: 2 * time.Second, MaxCurrent: 32}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// eventually polls until cond holds; the deadline only catches a hang.
func eventually(t *testing.T, what string, cond func() (bool, any)) {
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
		time.Sleep(50 * time.Millisecond)
	}
}

func pollUntil(t *testing.T, d *Driver, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	eventually(t, what, func() (bool, any) {
		var err error
		st, err = d.Poll(t.Context())
		return err == nil && cond(st), st
	})
	return st
}

func dump(v any) string { return drivertest.Dump(v) }

// consistentPoll polls between two equal snapshots, so the reading and the
// snapshot describe the same tick.
func consistentPoll(t *testing.T, s *Simulator, d *Driver) (charger.State, SimSnapshot) {
	return drivertest.ConsistentPoll(t, s.Snapshot, d.Poll)
}

// delta is the requests made between two Requests() calls.
func delta(before, after map[string]int) map[string]int { return drivertest.Delta(before, after) }

func TestPollMatchesSimulator(t *testing.T) {
	t.Parallel()
	for _, three := range []bool{false, true} {
		t.Run(fmt.Sprintf("three-phase=%t", three), func(t *testing.T) {
			t.Parallel()
			s := startSim(t, SimConfig{ThreePhase: three, MaxCurrentSoft: 16, Car: quickCar, Plugged: true})
			d := newDriver(t, s.Addr(), nil)
			eventually(t, "the car to charge at 16 A", func() (bool, any) {
				sn := s.Snapshot()
				return sn.State == 3 && sn.Amps == 16 && sn.SessionWh > 0, sn
			})
			st, sn := consistentPoll(t, s, d)
			n := 1
			if three {
				n = 3
			}
			want := charger.State{
				IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
				CurrentLimit: charger.Ptr(16.0), Power: charger.Ptr(sn.Power), Phases: charger.Ptr(n),
				SessionEnergy: charger.Ptr(sn.SessionWh / 1000), EnergyTotal: charger.Ptr(sn.TotalKWh),
				Temperature: charger.Ptr(sn.Temp / 10), RSSI: charger.Ptr(-61.0),
				Identity: charger.Identity{Brand: "OpenEVSE", Model: "OpenEVSE (openevse_wifi_v1)",
					Serial: "24:0A:C4:12:A7:D4", Firmware: "5.1.4 (EVSE 8.2.3)"},
			}
			for range n {
				want.Currents = append(want.Currents, 16)
				want.Voltages = append(want.Voltages, 240)
			}
			if !reflect.DeepEqual(st, want) {
				t.Fatalf("poll:\n got %s\nwant %s", dump(st), dump(want))
			}
			if math.Abs(*st.Power-16*240*float64(n)) > 1 {
				t.Errorf("power %v W for 16 A at 240 V on %d phases", *st.Power, n)
			}

			before := s.Requests()
			if _, err := d.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := delta(before, s.Requests()); !reflect.DeepEqual(got, map[string]int{"GET /status": 1}) {
				t.Errorf("a steady poll cost %v, want one GET /status", got)
			}
		})
	}
}

func TestFirstPollReadsConfig(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	if lo, hi, _ := d.CurrentRange(); lo != 6 || hi != 32 {
		t.Errorf("before the first poll: %v..%v, want 6..32", lo, hi)
	}
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET /status": 1, "GET /config": 1}
	if got := s.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("first poll: %v, want %v", got, want)
	}
	// A settings change moves config_version: the driver reads /config again.
	s.SetMaxCurrentSoft(20)
	before := s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := delta(before, s.Requests()); !reflect.DeepEqual(got, want) {
		t.Errorf("poll after a config change: %v, want %v", got, want)
	}
	if lo, hi, step := d.CurrentRange(); lo != 6 || hi != 20 || step != 1 {
		t.Errorf("range %v..%v/%v, want 6..20/1 from max_current_soft", lo, hi, step)
	}
	// The configured maximum caps the range too.
	capped, err := New(charger.Settings{Address: s.Addr(), MaxCurrent: 13.5}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, hi, _ := capped.CurrentRange(); hi != 13 {
		t.Errorf("max_current 13.5: top %v, want 13", hi)
	}
}

func TestSetCurrentClaims(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{MaxCurrentSoft: 16, Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	pollUntil(t, d, "charging at 16 A", func(st charger.State) bool { return st.Currents[0] == 16 })

	before := s.Requests()
	if err := d.SetCurrent(t.Context(), 10.7); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(DefaultClientID)
	want := map[string]int{"GET /claims/" + id: 1, "POST /claims/" + id: 1, "GET /override": 1}
	if got := delta(before, s.Requests()); !reflect.DeepEqual(got, want) {
		t.Errorf("first command: %v, want %v", got, want)
	}
	sn := s.Snapshot()
	wantClaim := []SimClaim{{Client: DefaultClientID, Priority: 500, ChargeCurrent: 10}}
	if !reflect.DeepEqual(sn.Claims, wantClaim) || sn.Pilot != 10 {
		t.Fatalf("claims %+v pilot %d, want %+v and 10 A", sn.Claims, sn.Pilot, wantClaim)
	}
	st := pollUntil(t, d, "the car to draw 10 A", func(st charger.State) bool { return st.Currents[0] == 10 })
	if *st.CurrentLimit != 10 || st.Status != charger.StatusCharging {
		t.Fatalf("after the claim: %s", dump(st))
	}

	before = s.Requests()
	if err := d.SetCurrent(t.Context(), 12); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"POST /claims/" + id: 1, "GET /override": 1}
	if got := delta(before, s.Requests()); !reflect.DeepEqual(got, want) {
		t.Errorf("later command: %v, want %v", got, want)
	}
	for _, a := range []float64{5.9, 17, -1, math.NaN(), math.Inf(1)} {
		if err := d.SetCurrent(t.Context(), a); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v) = %v, want ErrRejected", a, err)
		}
	}
	if sn := s.Snapshot(); sn.Pilot != 12 || sn.ClaimsVersion != 2 {
		t.Errorf("refused values reached the charger: pilot %d, claims version %d", sn.Pilot, sn.ClaimsVersion)
	}
}

func TestSetEnabledKeepsTheWholeClaim(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if err := d.SetCurrent(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	want := []SimClaim{{Client: DefaultClientID, Priority: 500, State: "disabled", ChargeCurrent: 8}}
	if sn := s.Snapshot(); !reflect.DeepEqual(sn.Claims, want) {
		t.Fatalf("claims %+v, want %+v: a POST replaces the whole claim", sn.Claims, want)
	}
	st := pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && st.IEC == charger.IECB && *st.Power == 0
	})
	if *st.Enabled || *st.CurrentLimit != 8 || st.ErrorCode != "" {
		t.Fatalf("paused: %s", dump(st))
	}
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging at 8 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && *st.Enabled && st.Currents[0] == 8
	})
}

// A restarted evbridge carries on what it claimed, rather than dropping
// "disabled" with its first current command.
func TestClaimCarriedAcrossRestart(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	first := newDriver(t, s.Addr(), nil)
	if err := first.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	second := newDriver(t, s.Addr(), nil)
	if err := second.SetCurrent(t.Context(), 9); err != nil {
		t.Fatal(err)
	}
	want := []SimClaim{{Client: DefaultClientID, Priority: 500, State: "disabled", ChargeCurrent: 9}}
	if sn := s.Snapshot(); !reflect.DeepEqual(sn.Claims, want) || sn.Status != "disabled" {
		t.Fatalf("claims %+v status %s, want %+v", sn.Claims, sn.Status, want)
	}
}

// After a gateway reboot (claims are in RAM) the next command restores
// the whole claim.
func TestRebootLosesClaims(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	s.Reboot()
	if st, err := d.Poll(t.Context()); err != nil || !*st.Enabled {
		t.Fatalf("after the reboot the charger is back to its default (active): %v %s", err, dump(st))
	}
	if err := d.SetCurrent(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	want := []SimClaim{{Client: DefaultClientID, Priority: 500, State: "disabled", ChargeCurrent: 7}}
	if sn := s.Snapshot(); !reflect.DeepEqual(sn.Claims, want) {
		t.Fatalf("claims %+v, want %+v", sn.Claims, want)
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), &Options{ClientID: 20})
	if err := d.SetCurrent(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); len(sn.Claims) != 1 || sn.Claims[0].Client != 20 {
		t.Fatalf("claims %+v, want one by client 20", sn.Claims)
	}
	if err := d.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); len(sn.Claims) != 0 || sn.Pilot != 32 {
		t.Fatalf("after release: claims %+v pilot %d", sn.Claims, sn.Pilot)
	}
	if err := d.Release(t.Context()); err != nil {
		t.Fatalf("releasing nothing: %v", err)
	}
	// After a release the next command claims afresh, without the old state.
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); len(sn.Claims) != 1 || sn.Claims[0].ChargeCurrent != 0 {
		t.Fatalf("claims %+v", sn.Claims)
	}
}

func BenchmarkPoll(b *testing.B) {
	s := startSim(b, SimConfig{Plugged: true})
	d := newDriver(b, s.Addr(), nil)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
