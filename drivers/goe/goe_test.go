package goe

import (
	"errors"
	"math"
	"reflect"
	"slices"
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

func newDriver(t testing.TB, addr string, timeout time.Duration) *Driver {
	t.Helper()
	d, err := New(charger.Settings{Name: "test", Address: addr, Timeout: timeout, MaxCurrent: 16}, nil, nil)
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

func dump(v any) string { return drivertest.Dump(v) }

// consistentPoll polls between two equal snapshots, so the reading and the
// snapshot describe the same tick.
func consistentPoll(t *testing.T, s *Simulator, d charger.Charger) (charger.State, SimSnapshot) {
	return drivertest.ConsistentPoll(t, s.Snapshot, d.Poll)
}

func pollUntil(t *testing.T, d charger.Charger, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	eventually(t, what, func() (bool, any) {
		var err error
		st, err = d.Poll(t.Context())
		return err == nil && cond(st), st
	})
	return st
}

func TestPollMatchesSimulator(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Serial: "072246", Firmware: "060.3", Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), 2*time.Second)
	eventually(t, "the car to charge", func() (bool, any) {
		sn := s.Snapshot()
		return sn.Car == 2 && sn.Currents[0] == 16, sn
	})
	st, sn := consistentPoll(t, s, d)
	want := charger.State{
		IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
		CurrentLimit: charger.Ptr(float64(sn.Amp)), Power: charger.Ptr(sn.Power),
		Currents: sn.Currents[:], Voltages: sn.Voltages[:], Phases: charger.Ptr(sn.Pnp),
		SessionEnergy: charger.Ptr(sn.Wh / 1000), EnergyTotal: charger.Ptr(sn.Eto / 1000),
		RSSI: charger.Ptr(float64(sn.Rssi)), Temperature: charger.Ptr(slices.Max(sn.Tma)),
		Identity: charger.Identity{Brand: "go-e", Model: "go-eCharger 11 kW", Serial: "072246", Firmware: "060.3"},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("poll:\n got %s\nwant %s", dump(st), dump(want))
	}
	if *st.Power <= 0 || *st.SessionEnergy <= 0 || *st.EnergyTotal < etoBase/1000 {
		t.Fatalf("a charging car must show power and energy: %s", dump(st))
	}
	if lo, hi, step := d.CurrentRange(); lo != 6 || hi != float64(sn.Ama) || step != 1 {
		t.Errorf("range %v..%v/%v, want 6..%d/1", lo, hi, step, sn.Ama)
	}

	s.Plug(false)
	eventually(t, "the box to see the unplug", func() (bool, any) {
		sn := s.Snapshot()
		return sn.Car == 1, sn
	})
	st, sn = consistentPoll(t, s, d)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || *st.Power != 0 || *st.EnergyTotal != sn.Eto/1000 {
		t.Fatalf("unplugged: %s", dump(st))
	}
}

// recorder collects what OnSet saw.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) add(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, k+"="+v)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

func TestSetCurrentCarFollows(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	var rec recorder
	s.OnSet(rec.add)
	d := newDriver(t, s.Addr(), 2*time.Second)
	pollUntil(t, d, "charging at 16 A", func(st charger.State) bool { return st.Currents[0] == 16 })

	if err := d.SetCurrent(t.Context(), 10.7); err != nil {
		t.Fatal(err)
	}
	if got := rec.all(); !slices.Equal(got, []string{"amp=10"}) {
		t.Fatalf("device was told %v, want amp=10", got)
	}
	if sn := s.Snapshot(); sn.Amp != 10 {
		t.Fatalf("simulator amp = %d, want 10", sn.Amp)
	}
	st := pollUntil(t, d, "the car to draw 10 A", func(st charger.State) bool {
		return st.Currents[0] == 10 && st.Currents[1] == 10 && st.Currents[2] == 10
	})
	if *st.CurrentLimit != 10 || st.Status != charger.StatusCharging {
		t.Fatalf("after the car followed: %s", dump(st))
	}
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), 2*time.Second)
	pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })

	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Frc != 1 {
		t.Fatalf("frc = %d, want 1", sn.Frc)
	}
	pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && !*st.Enabled && *st.Power == 0 && st.IEC == charger.IECB
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Frc != 2 {
		t.Fatalf("frc = %d, want 2", sn.Frc)
	}
	pollUntil(t, d, "charging again", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && *st.Enabled && *st.Power > 0
	})
}

func TestSetPhases(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), 2*time.Second)
	pollUntil(t, d, "charging on 3 phases", func(st charger.State) bool { return st.Currents[2] == 16 })

	if err := d.SetPhases(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Psm != 1 {
		t.Fatalf("psm = %d, want 1", sn.Psm)
	}
	pollUntil(t, d, "charging on 1 phase", func(st charger.State) bool {
		return *st.Phases == 1 && st.Currents[0] == 16 && st.Currents[1] == 0 && *st.Power == 16*230
	})
	if err := d.SetPhases(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Psm != 2 {
		t.Fatalf("psm = %d, want 2", sn.Psm)
	}
	pollUntil(t, d, "charging on 3 phases again", func(st charger.State) bool {
		return *st.Phases == 3 && st.Currents[2] == 16
	})
	if err := d.SetPhases(t.Context(), 2); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("2 phases: %v, want ErrNotSupported", err)
	}
}

func TestRejectedValues(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	var rec recorder
	s.OnSet(rec.add)
	d := newDriver(t, s.Addr(), 2*time.Second)
	ctx := t.Context()
	for _, a := range []float64{5, 5.99, 17, 32, -1, math.NaN(), math.Inf(1)} {
		err := d.SetCurrent(ctx, a)
		if !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v) = %v, want ErrRejected", a, err)
		}
	}
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("refused values reached the device: %v", got)
	}
	// What the device itself refuses (the driver never sends these).
	for _, c := range []struct{ key, value, want string }{
		{"amp", "5", "amp: failed: value 5 exceeds range 6 to 32"},
		{"frc", "3", "exceeds range 0 to 2"},
		{"car", "2", "without setter"},
		{"nosuch", "1", "unknown api key"},
	} {
		err := d.set(ctx, c.key, c.value)
		if !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("set %s=%s: %v, want ErrRejected mentioning %q", c.key, c.value, err, c.want)
		}
	}
	if sn := s.Snapshot(); sn.Amp != 16 || sn.Frc != 0 {
		t.Fatalf("rejected writes changed the device: amp %d frc %d", sn.Amp, sn.Frc)
	}
}

func TestCurrentRangeCaps(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Variant: 22})
	d, err := New(charger.Settings{Address: s.Addr(), Timeout: 2 * time.Second, MaxCurrent: 20.5}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, hi, _ := d.CurrentRange(); hi != 20 {
		t.Errorf("before a poll: max %v, want the configured 20", hi)
	}
	if err := d.set(t.Context(), "ama", "18"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, hi, _ := d.CurrentRange(); hi != 18 {
		t.Errorf("after ama=18: max %v, want 18", hi)
	}
	if err := d.SetCurrent(t.Context(), 19); !errors.Is(err, charger.ErrRejected) {
		t.Errorf("19 A above ama: %v, want ErrRejected", err)
	}
}

func BenchmarkPoll(b *testing.B) {
	s := startSim(b, SimConfig{Plugged: true})
	d := newDriver(b, s.Addr(), 2*time.Second)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
