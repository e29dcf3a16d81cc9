package kebamodbus

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// The setup every Modbus driver's tests share (modbustest); dial
// connects a driver with default options and its own pool.
var (
	testPool  = modbustest.Pool
	poll      = modbustest.Poll[*Charger]
	waitFor   = modbustest.WaitFor
	pollUntil = modbustest.PollUntil[*Charger]
	dial      = modbustest.Connect(New, DefaultOptions)
)

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	cfg.Car = modbustest.QuickCarIfUnset(cfg.Car)
	return modbustest.Start(t, NewSimulator(cfg))
}

// fixture runs the shared Modbus driver tests (modbustest) on the
// default simulator.
var fixture = modbustest.Fixture[*Simulator, *Charger]{
	Start:  func(t testing.TB) *Simulator { return startSim(t, SimConfig{}) },
	Driver: func(t testing.TB, s *Simulator) *Charger { return newDriver(t, s.Addr(), testPool(t), nil) },
	Dial:   dial,
}

func newDriver(t testing.TB, addr string, pool *modbusx.Pool, edit func(*Options)) *Charger {
	t.Helper()
	o := DefaultOptions()
	o.PhaseSwitching = true
	return modbustest.Build(t, New, modbustest.Settings(addr, 32), o, edit, pool)
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func complete(st charger.State) bool {
	return len(st.Currents) == 3 && len(st.Voltages) == 3 && st.EnergyTotal != nil && st.Phases != nil &&
		st.CurrentLimit != nil && st.Firmware != ""
}

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{PhaseSwitch: true})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()

	st := pollUntil(t, c, "every register read", complete)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s / %s", st.IEC, st.Status)
	}
	want := charger.Identity{Brand: "KEBA", Model: "KeContact P30 (304111)", Serial: "18416854", Firmware: "3.10.42"}
	if st.Identity != want {
		t.Fatalf("identity = %+v, want %+v", st.Identity, want)
	}
	if !near(*st.EnergyTotal, 38.101) || *st.CurrentLimit != 32 || !*st.Enabled || *st.Phases != 3 {
		t.Fatalf("idle state = %+v", st)
	}
	if !slices.Equal(st.Voltages, []float64{230, 230, 230}) || st.SessionEnergy != nil {
		t.Fatalf("voltages %v session %v", st.Voltages, st.SessionEnergy)
	}

	s.Plug(true)
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	st = pollUntil(t, c, "charging at 10 A on three phases", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && slices.Equal(st.Currents, []float64{10, 10, 10})
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || st.Power == nil || !near(*st.Power, 6900) {
		t.Fatalf("charging state = %+v", st)
	}
	st = pollUntil(t, c, "session energy", func(st charger.State) bool {
		return st.SessionEnergy != nil && *st.SessionEnergy > 0
	})
	if got := *st.EnergyTotal - 38.101; math.Abs(got-*st.SessionEnergy) > 0.002 {
		t.Fatalf("session %v kWh vs lifetime delta %v kWh", *st.SessionEnergy, got)
	}
	if st.ErrorCode != "" {
		t.Fatalf("error %q", st.ErrorCode)
	}
	s.SetFault(true)
	st = pollUntil(t, c, "the error code", func(st charger.State) bool { return st.ErrorCode != "error" })
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "0x40000" {
		t.Fatalf("fault: %s %s %q", st.IEC, st.Status, st.ErrorCode)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{PhaseSwitch: true})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)

	if err := c.SetCurrent(ctx, 12.5); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.UserCurrent != 12.5 || sn.Offered != 12.5 {
		t.Fatalf("after SetCurrent: %+v", sn)
	}
	waitFor(t, "car at 12.5 A", func() bool { return s.Snapshot().Car.Currents[0] == 12.5 })
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Enabled || sn.Car.Charging || sn.State != stateNotReady {
		t.Fatalf("disabled: %+v", sn)
	}
	st := pollUntil(t, c, "disabled state", func(st charger.State) bool { return st.Enabled != nil && !*st.Enabled })
	if st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: %s limit %v", st.Status, *st.CurrentLimit)
	}
	// A P30 keeps enable and current apart.
	if err := c.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.UserCurrent != 8 || sn.Offered != 0 {
		t.Fatalf("current while disabled: %+v", sn)
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); !sn.Enabled || sn.Offered != 8 {
		t.Fatalf("enabled: %+v", sn)
	}
	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	st = pollUntil(t, c, "one phase", func(st charger.State) bool {
		return st.Phases != nil && *st.Phases == 1 && len(st.Currents) == 3 && st.Currents[0] == 8 && st.Currents[1] == 0
	})
	if err := c.SetPhases(ctx, 3); err != nil || s.Snapshot().Phases != 3 {
		t.Fatalf("back to 3 phases: %v", err)
	}

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 32.1, -1, math.NaN(), math.Inf(1)} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	if err := c.SetPhases(ctx, 2); err == nil {
		t.Error("SetPhases(2) accepted")
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the station")
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 32 || step != 0.001 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

func TestP40(t *testing.T) {
	s := startSim(t, SimConfig{Product: 4040111, Firmware: 10201, PhaseSwitch: true})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	st := pollUntil(t, c, "identity", complete)
	if st.Model != "KeContact P40 (4040111)" || st.Firmware != "1.2.1" || *st.Phases != 3 {
		t.Fatalf("P40 state = %+v", st)
	}
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Enabled || sn.UserCurrent != 0 {
		t.Fatalf("P40 disable writes 5004 = 0: %+v", sn)
	}
	if err := c.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Enabled {
		t.Fatal("a current set while disabled enabled the P40")
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); !sn.Enabled || sn.Offered != 9 {
		t.Fatalf("P40 enable: %+v", sn)
	}
	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, c, "P40 one phase", func(st charger.State) bool { return st.Phases != nil && *st.Phases == 1 })
}

func TestPhaseSwitchingOff(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.PhaseSwitching = false })
	if err := c.SetPhases(context.Background(), 1); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	var ch charger.Charger = fixedPhases{c}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Fatal("fixedPhases offers phase switching")
	}
	// No S10 fitted: the station refuses the switch even when asked.
	c2 := newDriver(t, s.Addr(), testPool(t), nil)
	if err := c2.SetPhases(context.Background(), 1); !errors.Is(err, modbusx.ErrIllegalValue) {
		t.Fatalf("err = %v, want illegal data value", err)
	}
}

func TestFailsafeOptionsWritten(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.FailsafeTimeout, o.FailsafeCurrent = 60, 6 })
	poll(t, c)
	if sn := s.Snapshot(); sn.FailsafeTimeout != 60 {
		t.Fatalf("failsafe timeout = %d", sn.FailsafeTimeout)
	}
	if iv := c.RefreshInterval(); iv != 20*time.Second {
		t.Fatalf("refresh interval %v, want a third of 60 s", iv)
	}
	writes := s.Counters().Writes
	poll(t, c)
	if s.Counters().Writes != writes {
		t.Fatal("the failsafe options were written twice")
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{FailsafeMin: 1, FailsafeTimeout: 1, FailsafeCurrent: 7})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failsafe fallback", func() bool {
		sn := s.Snapshot()
		return sn.Tripped && sn.Fallbacks == 1 && sn.Offered == 7
	})
	pollUntil(t, c, "the fallback seen", func(st charger.State) bool { return st.CurrentLimit != nil && *st.CurrentLimit == 7 })
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Tripped || sn.Offered != 13 {
		t.Fatalf("after refresh: %+v", sn)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	s := startSim(t, SimConfig{FailsafeMin: 1, FailsafeTimeout: 2})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != 30*time.Second {
		t.Fatalf("before the timeout is read: %v", iv)
	}
	pollUntil(t, c, "failsafe timeout read", func(charger.State) bool { return c.RefreshInterval() < time.Second })
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(2*timeout + timeout/2); time.Now().Before(end); {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if sn := s.Snapshot(); sn.Fallbacks != 0 || sn.Offered != 11 {
		t.Fatalf("refreshed station fell back: %+v", sn)
	}
}

func TestOptions(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.UnitID = 256 },
		func(o *Options) { o.FailsafeTimeout = 5 },
		func(o *Options) { o.FailsafeTimeout = 601 },
		func(o *Options) { o.FailsafeCurrent = 3 },
		func(o *Options) { o.FailsafeCurrent = math.NaN() },
		func(o *Options) { o.EnergyUnit = "kWh" },
	}
	for i, edit := range bad {
		o := DefaultOptions()
		edit(&o)
		if o.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
	}
	if o := DefaultOptions(); o.Validate() != nil || o.UnitID != 255 {
		t.Fatal("defaults invalid")
	}
}
