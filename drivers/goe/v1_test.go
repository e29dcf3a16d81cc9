package goe

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func newDriverV1(t testing.TB, addr string, timeout time.Duration) *DriverV1 {
	t.Helper()
	d, err := NewV1(charger.Settings{Name: "test", Address: addr, Timeout: timeout, MaxCurrent: 16}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func startSimV1(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	cfg.API = 1
	return startSim(t, cfg)
}

func TestV1PollMatchesSimulator(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{Serial: "004711", Car: quickCar, Plugged: true})
	d := newDriverV1(t, s.Addr(), 2*time.Second)
	eventually(t, "the car to charge", func() (bool, any) {
		sn := s.Snapshot()
		return sn.Car == 2 && sn.Currents[0] == 16 && sn.Wh > 0, sn
	})
	st, sn := consistentPoll(t, s, d)
	// Expected in API v1's coarser units: 0.1 A, 0.01 kW, 10 Ws, 0.1 kWh.
	want := charger.State{
		IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
		CurrentLimit: charger.Ptr(16.0), Power: charger.Ptr(math.Round(sn.Power/10) * 10),
		Currents: []float64{16, 16, 16}, Voltages: sn.Voltages[:], Phases: charger.Ptr(3),
		SessionEnergy: charger.Ptr(math.Round(sn.Wh*360) / 360000),
		EnergyTotal:   charger.Ptr(math.Floor(sn.Eto/100) / 10),
		Temperature:   charger.Ptr(math.Round(slices.Max(sn.Tma))),
		Identity:      charger.Identity{Brand: "go-e", Model: "go-eCharger (API v1)", Serial: "004711", Firmware: "040"},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("poll:\n got %s\nwant %s", dump(st), dump(want))
	}
	if st.RSSI != nil {
		t.Errorf("API v1 has no RSSI, got %v", *st.RSSI)
	}
	before := s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if after := s.Requests(); after["/status"]-before["/status"] != 1 || len(after) != len(before) {
		t.Fatalf("one poll cost %v requests (before %v), want one /status", after, before)
	}

	s.Plug(false)
	st = pollUntil(t, d, "the unplug", func(st charger.State) bool { return st.IEC == charger.IECA })
	if st.Status != charger.StatusNoVehicle || *st.Power != 0 || *st.SessionEnergy == 0 {
		t.Fatalf("unplugged: %s", dump(st))
	}
}

func TestV1SetCurrentIsVolatile(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{Car: quickCar, Plugged: true})
	var rec recorder
	s.OnSet(rec.add)
	d := newDriverV1(t, s.Addr(), 2*time.Second)
	pollUntil(t, d, "charging at 16 A", func(st charger.State) bool { return st.Currents[0] == 16 })

	before := s.Requests()
	if err := d.SetCurrent(t.Context(), 10.7); err != nil {
		t.Fatal(err)
	}
	after := s.Requests()
	if got := rec.all(); !slices.Equal(got, []string{"amx=10"}) {
		t.Fatalf("device was told %v, want amx=10", got)
	}
	if after["/mqtt"]-before["/mqtt"] != 1 || after["/status"] != before["/status"] {
		t.Fatalf("a command cost %v requests, want one /mqtt", after)
	}
	if sn := s.Snapshot(); sn.Amp != 10 || sn.AmpFlash != 16 {
		t.Fatalf("amp %d flash %d, want 10 live and 16 in flash", sn.Amp, sn.AmpFlash)
	}
	st := pollUntil(t, d, "the car to draw 10 A", func(st charger.State) bool {
		return slices.Equal(st.Currents, []float64{10, 10, 10})
	})
	if *st.CurrentLimit != 10 {
		t.Fatalf("after amx=10: %s", dump(st))
	}
	s.Reboot()
	if st, err := d.Poll(t.Context()); err != nil || *st.CurrentLimit != 16 {
		t.Fatalf("after a reboot amx is gone and amp 16 is back: %v %s", err, dump(st))
	}
}

func TestV1SetEnabled(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{Car: quickCar, Plugged: true})
	var rec recorder
	s.OnSet(rec.add)
	d := newDriverV1(t, s.Addr(), 2*time.Second)
	pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })

	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && !*st.Enabled && *st.Power == 0 && st.IEC == charger.IECB
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging again", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && *st.Enabled && *st.Power > 0
	})
	if got := rec.all(); !slices.Equal(got, []string{"alw=0", "alw=1"}) {
		t.Fatalf("device was told %v", got)
	}
}

func TestV1Rejected(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{})
	var rec recorder
	s.OnSet(rec.add)
	d := newDriverV1(t, s.Addr(), 2*time.Second)
	ctx := t.Context()
	for _, a := range []float64{5, 17, -1, math.NaN(), math.Inf(-1)} {
		if err := d.SetCurrent(ctx, a); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v) = %v, want ErrRejected", a, err)
		}
	}
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("refused values reached the device: %v", got)
	}
	// What the device ignores (the driver never sends these): the
	// unchanged value in the reply is the only sign.
	err := d.set(ctx, "amx", 40)
	if !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), "amx is still 16 after setting 40") {
		t.Errorf("amx=40: %v", err)
	}
	if err := d.set(ctx, "zzz", 1); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("unknown key: %v, want ErrBadReply", err)
	}
	if sn := s.Snapshot(); sn.Amp != 16 || sn.Frc != 0 {
		t.Fatalf("ignored writes changed the device: amp %d frc %d", sn.Amp, sn.Frc)
	}
}

func TestV1CurrentRangeFollowsAma(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{Variant: 22})
	d, err := NewV1(charger.Settings{Address: s.Addr(), Timeout: 2 * time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, hi, _ := d.CurrentRange(); hi != 32 {
		t.Errorf("before a poll: max %v, want 32", hi)
	}
	if err := d.set(t.Context(), "ama", 20); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lo, hi, step := d.CurrentRange(); lo != 6 || hi != 20 || step != 1 {
		t.Errorf("after ama=20: %v..%v/%v", lo, hi, step)
	}
}

func TestV1Faults(t *testing.T) {
	t.Parallel()
	s := startSimV1(t, SimConfig{})
	addr := s.Addr()
	d := newDriverV1(t, addr, 2*time.Second)
	for _, c := range []struct {
		fault Fault
		want  string
	}{
		{FaultGarbage, "bad JSON"},
		{FaultHTML, "got HTML, not JSON (is HTTP API v1 enabled in the app?)"},
		{FaultEmpty, "empty reply"},
	} {
		s.SetFault(c.fault)
		if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: poll %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
		if err := d.SetEnabled(t.Context(), false); !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("fault %d: set %v, want ErrBadReply", c.fault, err)
		}
	}

	s.SetFault(FaultSlow)
	s.SetSlowDelay(time.Minute)
	if _, err := newDriverV1(t, addr, 100*time.Millisecond).Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slower than the timeout: %v, want DeadlineExceeded", err)
	}
	s.SetSlowDelay(20 * time.Millisecond)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
	s.SetFault(FaultHang)
	if err := newDriverV1(t, addr, 100*time.Millisecond).SetCurrent(t.Context(), 8); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung set: %v, want DeadlineExceeded", err)
	}
	s.SetFault(FaultNone)

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err == nil {
		t.Fatal("poll of a closed device succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "the device to come back", func(st charger.State) bool { return st.Serial == "123456" })
}

// Each driver pointed at a box speaking the other API says which to use.
func TestWrongAPINamesTheOtherDriver(t *testing.T) {
	t.Parallel()
	v2 := startSim(t, SimConfig{})
	if _, err := newDriverV1(t, v2.Addr(), 2*time.Second).Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) ||
		!strings.Contains(err.Error(), "http 404: no /status") || !strings.Contains(err.Error(), "driver goe)") {
		t.Errorf("v1 driver on a v2 box: %v", err)
	}
	v1 := startSimV1(t, SimConfig{})
	if _, err := newDriver(t, v1.Addr(), 2*time.Second).Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) ||
		!strings.Contains(err.Error(), "driver goe_v1") {
		t.Errorf("v2 driver on a v1 box: %v", err)
	}
}

func TestV1Registry(t *testing.T) {
	drv, ok := charger.Default.Lookup("goe_v1")
	if !ok || drv.DefaultPort != 80 || drv.DefaultPollInterval != 5*time.Second {
		t.Fatalf("registered driver: %+v", drv)
	}
	c, err := drv.New(charger.Settings{Address: "192.0.2.7"}, drv.NewOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(charger.PhaseSwitcher); ok {
		t.Error("API v1 cannot switch phases, yet the driver says it can")
	}
	if _, ok := c.(charger.CurrentSetter); !ok {
		t.Error("goe_v1 lost CurrentSetter")
	}
	if _, err := drv.New(charger.Settings{Address: "h"}, &Options{Token: "a\nb"}, nil); err == nil {
		t.Error("token with a newline accepted")
	}
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "goe_v1" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no goe_v1 simulator registered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	d := newDriverV1(t, <-bound, 2*time.Second)
	st := pollUntil(t, d, "a plugged-in car", func(st charger.State) bool { return st.IEC != charger.IECA })
	if st.Brand != "go-e" {
		t.Fatalf("standalone v1 simulator: %s", dump(st))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func BenchmarkPollV1(b *testing.B) {
	s := startSimV1(b, SimConfig{Plugged: true})
	d := newDriverV1(b, s.Addr(), 2*time.Second)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
