package smaev

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
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

func simOptions() *Options { return &Options{Username: SimUsername, Password: SimPassword} }

func newDriver(t testing.TB, addr string, o *Options) *Driver {
	t.Helper()
	return newDriverMax(t, addr, o, 32)
}

func newDriverMax(t testing.TB, addr string, o *Options, maxCur float64) *Driver {
	t.Helper()
	if o == nil {
		o = simOptions()
	}
	d, err := New(charger.Settings{Name: "test", Address: addr, Timeout: 5 * time.Second, MaxCurrent: maxCur}, o, nil)
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
		if err != nil {
			return false, err.Error()
		}
		return cond(st), st
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

const (
	keyToken = "POST " + pathToken
	keyMeas  = "POST " + pathMeasurements
	keyParam = "POST " + pathParameters
	keyPut   = "PUT " + pathSetParams
)

func TestPollMatchesSimulator(t *testing.T) {
	t.Parallel()
	for _, model := range []string{"EVC22-3AC-10", "EVC7.4-1AC-10"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			s := startSim(t, SimConfig{Model: model, Car: quickCar, Plugged: true, Serial: "3019876543"})
			d := newDriver(t, s.Addr(), nil)
			eventually(t, "the car to charge at 16 A", func() (bool, any) {
				sn := s.Snapshot()
				return sn.State == stateC && sn.Phase[0] == -16 && sn.SessionWh > 0, sn
			})
			st, sn := consistentPoll(t, s, d)
			currents, phases := []float64{16, 16, 16}, 3.0
			if strings.Contains(model, "1AC") {
				currents, phases = []float64{16, 0, 0}, 1
			}
			want := charger.State{
				IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
				CurrentLimit: charger.Ptr(32.0), Power: charger.Ptr(sn.Power), Currents: currents,
				SessionEnergy: charger.Ptr(sn.SessionWh / 1000), EnergyTotal: charger.Ptr(sn.TotalWh / 1000),
				Identity: charger.Identity{Brand: "SMA", Model: model, Serial: "3019876543", Firmware: "1.2.23.R"},
			}
			if !reflect.DeepEqual(st, want) {
				t.Fatalf("\n got %s\nwant %s", dump(st), dump(want))
			}
			if sn.Power != 16*230*phases {
				t.Fatalf("simulated power %v", sn.Power)
			}
		})
	}
}

func TestRequestsPerPoll(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	before := s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	mid := s.Requests()
	if got, want := delta(before, mid), map[string]int{keyToken: 1, keyMeas: 1, keyParam: 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first poll: %v, want %v", got, want)
	}
	for range 3 {
		if _, err := d.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := delta(mid, s.Requests()), map[string]int{keyMeas: 3, keyParam: 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("three more polls: %v, want %v", got, want)
	}
	if sn := s.Snapshot(); sn.Logins != 1 || sn.Refreshes != 0 {
		t.Fatalf("token not reused: %+v", sn)
	}
}

func TestSetCurrentCarFollows(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	if err := d.SetCurrent(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Limit != 10 || sn.Puts != 1 {
		t.Fatalf("after SetCurrent(10): %+v", sn)
	}
	st := pollUntil(t, d, "the car to draw 10 A", func(st charger.State) bool {
		return len(st.Currents) == 3 && st.Currents[0] == 10 && st.Status == charger.StatusCharging
	})
	if *st.CurrentLimit != 10 {
		t.Fatalf("limit %s", dump(st))
	}
	if err := d.SetCurrent(t.Context(), 7.456); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Limit != 7.46 {
		t.Fatalf("7.456 A written as %v", sn.Limit)
	}
	pollUntil(t, d, "the car to draw 7.46 A", func(st charger.State) bool { return st.Currents[0] == 7.46 })
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Mode != modeStop {
		t.Fatalf("disabled: mode %q", sn.Mode)
	}
	st := pollUntil(t, d, "the car to stop", func(st charger.State) bool { return st.IEC == charger.IECB })
	if st.Status != charger.StatusPaused || *st.Enabled || *st.Power != 0 {
		t.Fatalf("disabled: %s", dump(st))
	}
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Mode != modeFast {
		t.Fatalf("enabled: mode %q", sn.Mode)
	}
	pollUntil(t, d, "charging again", func(st charger.State) bool { return st.IEC == charger.IECC && *st.Enabled })
}

func TestCurrentRangeAndRejects(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	if lo, hi, step := d.CurrentRange(); lo != 6 || hi != 32 || step != 0.01 {
		t.Fatalf("range %v..%v step %v", lo, hi, step)
	}
	for _, a := range []float64{5.99, 0, -6, 32.01, 100, math.NaN(), math.Inf(1)} {
		if err := d.SetCurrent(t.Context(), a); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v): %v, want ErrRejected", a, err)
		}
	}
	d16 := newDriverMax(t, s.Addr(), nil, 16)
	if _, hi, _ := d16.CurrentRange(); hi != 16 {
		t.Fatalf("max_current 16: range top %v", hi)
	}
	if err := d16.SetCurrent(t.Context(), 16.01); !errors.Is(err, charger.ErrRejected) {
		t.Errorf("16.01 A over max_current 16: %v", err)
	}
	d5 := newDriverMax(t, s.Addr(), nil, 5)
	if err := d5.SetCurrent(t.Context(), 6); !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), "max_current") {
		t.Errorf("6 A over max_current 5: %v", err)
	}
	if n := s.Snapshot().Puts; n != 0 {
		t.Fatalf("refused commands wrote %d times", n)
	}
	if err := d16.SetCurrent(t.Context(), 16); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCurrent(t.Context(), 32); err != nil {
		t.Fatal(err)
	}
}

func TestEcoSwitch(t *testing.T) {
	t.Parallel()
	if m := NewSimulator(SimConfig{Eco: true}).Snapshot().Mode; m != modeOptimised {
		t.Fatalf("eco position at start, no car: mode %q", m)
	}
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true, Eco: true})
	d := newDriver(t, s.Addr(), nil)
	st := pollUntil(t, d, "a reading", func(st charger.State) bool { return st.IEC == charger.IECB })
	if st.ErrorCode != ErrorCodeEcoSwitch || !strings.Contains(st.ErrorText, "optimised charging") ||
		st.Status != charger.StatusConnected || !*st.Enabled {
		t.Fatalf("eco position: %s", dump(st))
	}
	cmds := map[string]func() error{
		"set current": func() error { return d.SetCurrent(t.Context(), 10) },
		"enable":      func() error { return d.SetEnabled(t.Context(), true) },
		"disable":     func() error { return d.SetEnabled(t.Context(), false) },
	}
	for name, cmd := range cmds {
		err := cmd()
		if !errors.Is(err, ErrEcoSwitch) || !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), "eco") {
			t.Errorf("%s in the eco position: %v", name, err)
		}
	}
	if n := s.Snapshot().Puts; n != 0 {
		t.Fatalf("commands in the eco position wrote %d times", n)
	}
	s.SetEco(false)
	for name, cmd := range cmds {
		if err := cmd(); err != nil {
			t.Errorf("%s in the fast position: %v", name, err)
		}
	}
	st, err := d.Poll(t.Context())
	if err != nil || st.ErrorCode != "" {
		t.Fatalf("fast position: %v %s", err, dump(st))
	}
}

func TestAppLockAndStationLocked(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true, AppLock: true})
	d := newDriver(t, s.Addr(), nil)
	st := pollUntil(t, d, "the station locked", func(st charger.State) bool { return st.ErrorCode == ErrorCodeLocked })
	if st.Status != charger.StatusPaused || st.IEC != charger.IECUnknown || !strings.Contains(st.ErrorText, "app lock is on") {
		t.Fatalf("locked: %s", dump(st))
	}
	s.Plug(false)
	st = pollUntil(t, d, "no car", func(st charger.State) bool { return st.IEC == charger.IECA })
	if st.ErrorCode != ErrorCodeAppLock {
		t.Fatalf("app lock, no car: %s", dump(st))
	}
	s.SetAppLock(false)
	pollUntil(t, d, "the lock to go", func(st charger.State) bool { return st.ErrorCode == "" })
	if s.Snapshot().Puts != 0 {
		t.Fatal("the driver wrote the app lock")
	}
}

func TestPlugUnplug(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar})
	d := newDriver(t, s.Addr(), nil)
	st := pollUntil(t, d, "no car", func(st charger.State) bool { return st.IEC == charger.IECA })
	if st.Status != charger.StatusNoVehicle || *st.Power != 0 {
		t.Fatalf("unplugged: %s", dump(st))
	}
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	s.Plug(true)
	// The charger goes back to the switch's mode (fast) when a car comes.
	st = pollUntil(t, d, "charging", func(st charger.State) bool { return st.IEC == charger.IECC && *st.SessionEnergy > 0 })
	if !*st.Enabled {
		t.Fatalf("plugged in: %s", dump(st))
	}
	total := *st.EnergyTotal
	s.Plug(false)
	pollUntil(t, d, "unplugged", func(st charger.State) bool { return st.IEC == charger.IECA })
	s.Plug(true)
	st = pollUntil(t, d, "a new session", func(st charger.State) bool { return st.IEC != charger.IECA })
	if *st.SessionEnergy > 0.05 || *st.EnergyTotal < total {
		t.Fatalf("new session: %s (lifetime was %v)", dump(st), total)
	}
}

func TestConcurrentPollsLogInOnce(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := d.Poll(t.Context()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Snapshot().Logins; n != 1 {
		t.Fatalf("%d logins for concurrent polls", n)
	}
}
