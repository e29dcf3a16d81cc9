package generichttp

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
	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// quickCar reacts fast so tests that wait for the car stay short.
var quickCar = simcar.Config{Delay: 200 * time.Millisecond, Tau: 100 * time.Millisecond}

func startGoe(t testing.TB, cfg goe.SimConfig) *goe.Simulator {
	t.Helper()
	s := goe.NewSimulator(cfg)
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// pair is the native goe driver and the generic driver with the goe
// definition, on one simulated charger.
type pair struct {
	native  *goe.Driver
	generic charger.Charger
	d       *Driver
}

func newPair(t testing.TB, s *goe.Simulator, maxCur float64) pair {
	t.Helper()
	set := charger.Settings{Name: "test", Address: s.Addr(), Timeout: 2 * time.Second, MaxCurrent: maxCur}
	n, err := goe.New(set, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(set, &Options{Builtin: "goe"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(); _ = g.(charger.Closer).Close() })
	return pair{native: n, generic: g, d: unwrap(g)}
}

func unwrap(c charger.Charger) *Driver {
	return c.(interface{ driver() *Driver }).driver()
}

func dump(v any) string { return drivertest.Dump(v) }

// eventually polls until cond holds; the deadline only catches a hang.
func eventually(t testing.TB, what string, cond func() (bool, any)) {
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

// same polls both drivers within one simulator tick and demands equal
// states; it returns the state.
func (p pair) same(t *testing.T, s *goe.Simulator) charger.State {
	t.Helper()
	for range 50 {
		before := s.Snapshot()
		a, err := p.native.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.generic.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, s.Snapshot()) {
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("generic differs from native:\n native %s\ngeneric %s", dump(a), dump(b))
		}
		return b
	}
	t.Fatal("no quiet moment between simulator ticks")
	return charger.State{}
}

// recorder collects what the simulator was told.
type recorder struct {
	mu   sync.Mutex
	sets []string
}

func (r *recorder) add(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, k+"="+v)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sets
	r.sets = nil
	return out
}

// The definition gives the state the native driver gives, in every state
// the simulator goes through, and its commands tell the charger the same.
func TestGoeDefinitionMatchesNativeDriver(t *testing.T) {
	t.Parallel()
	s := startGoe(t, goe.SimConfig{Serial: "072246", Firmware: "060.3", Car: quickCar, Plugged: true})
	var rec recorder
	s.OnSet(rec.add)
	p := newPair(t, s, 16)
	cs, en, ph := p.generic.(charger.CurrentSetter), p.generic.(charger.Enabler), p.generic.(charger.PhaseSwitcher)
	ctx := t.Context()

	wait := func(what string, cond func(goe.SimSnapshot) bool) {
		t.Helper()
		eventually(t, what, func() (bool, any) { sn := s.Snapshot(); return cond(sn), sn })
	}
	// both runs the command through each driver and compares what reached
	// the charger.
	both := func(name string, native, generic func() error) {
		t.Helper()
		if err := native(); err != nil {
			t.Fatalf("%s, native: %v", name, err)
		}
		want := rec.take()
		if err := generic(); err != nil {
			t.Fatalf("%s, generic: %v", name, err)
		}
		if got := rec.take(); !slices.Equal(got, want) || len(got) == 0 {
			t.Fatalf("%s: generic told the charger %q, native %q", name, got, want)
		}
	}

	wait("charging at 16 A", func(sn goe.SimSnapshot) bool { return sn.Car == 2 && sn.Currents[2] == 16 })
	st := p.same(t, s)
	if st.Status != charger.StatusCharging || st.Model != "go-eCharger 11 kW" || *st.Phases != 3 ||
		*st.Temperature <= 0 || *st.RSSI != -58 || *st.SessionEnergy <= 0 {
		t.Fatalf("charging: %s", dump(st))
	}
	for _, name := range []string{"native", "generic"} {
		var lo, hi, step float64
		if name == "native" {
			lo, hi, step = p.native.CurrentRange()
		} else {
			lo, hi, step = cs.CurrentRange()
		}
		if lo != 6 || hi != 16 || step != 1 {
			t.Errorf("%s range %v..%v/%v, want 6..16/1", name, lo, hi, step)
		}
	}

	both("set current 10.7", func() error { return p.native.SetCurrent(ctx, 10.7) },
		func() error { return cs.SetCurrent(ctx, 10.7) })
	wait("the car at 10 A", func(sn goe.SimSnapshot) bool { return sn.Currents[0] == 10 })
	p.same(t, s)

	both("phases 1", func() error { return p.native.SetPhases(ctx, 1) },
		func() error { return ph.SetPhases(ctx, 1) })
	wait("one phase", func(sn goe.SimSnapshot) bool { return sn.Pnp == 1 && sn.Currents[0] == 10 })
	if st := p.same(t, s); *st.Phases != 1 {
		t.Fatalf("one phase: %s", dump(st))
	}
	both("phases 3", func() error { return p.native.SetPhases(ctx, 3) },
		func() error { return ph.SetPhases(ctx, 3) })

	both("disable", func() error { return p.native.SetEnabled(ctx, false) },
		func() error { return en.SetEnabled(ctx, false) })
	wait("paused", func(sn goe.SimSnapshot) bool { return sn.Car == 3 && sn.Frc == 1 })
	if st := p.same(t, s); st.Status != charger.StatusPaused || *st.Enabled {
		t.Fatalf("disabled: %s", dump(st))
	}
	both("enable", func() error { return p.native.SetEnabled(ctx, true) },
		func() error { return en.SetEnabled(ctx, true) })
	wait("charging again", func(sn goe.SimSnapshot) bool { return sn.Car == 2 && sn.Currents[2] == 10 })
	p.same(t, s)

	s.Plug(false)
	wait("unplugged", func(sn goe.SimSnapshot) bool { return sn.Car == 1 })
	if st := p.same(t, s); st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s", dump(st))
	}
}

func TestGoeDefinitionRefusals(t *testing.T) {
	t.Parallel()
	s := startGoe(t, goe.SimConfig{})
	var rec recorder
	s.OnSet(rec.add)
	p := newPair(t, s, 16)
	cs := p.generic.(charger.CurrentSetter)
	ctx := t.Context()
	if _, err := p.generic.Poll(ctx); err != nil { // learns ama
		t.Fatal(err)
	}
	for _, a := range []float64{5, 5.99, 17, 32, -1, math.NaN(), math.Inf(1)} {
		if err := cs.SetCurrent(ctx, a); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v) = %v, want ErrRejected", a, err)
		}
	}
	if err := p.generic.(charger.PhaseSwitcher).SetPhases(ctx, 2); !errors.Is(err, charger.ErrNotSupported) {
		t.Errorf("2 phases: %v, want ErrNotSupported", err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("refused values reached the charger: %q", got)
	}
	// What the charger itself refuses: its reason comes back as ErrRejected.
	err := p.d.run(ctx, p.d.p.setCurrent, 5)
	if !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), "exceeds range 6 to 32") {
		t.Fatalf("charger refusal: %v", err)
	}
}
