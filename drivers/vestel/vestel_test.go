package vestel

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
	testPool = modbustest.Pool
	poll     = modbustest.Poll[*Charger]
	waitFor  = modbustest.WaitFor
	dial     = modbustest.Connect(New, DefaultOptions)
)

// startSim starts a simulator that accepts two masters (a test often
// talks to it with a plain client beside the driver) unless told.
func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	cfg.Car = modbustest.QuickCarIfUnset(cfg.Car)
	if cfg.MaxMasters == 0 {
		cfg.MaxMasters = 2
	}
	return modbustest.Start(t, NewSimulator(cfg))
}

// fixture runs the shared Modbus driver tests (modbustest) on the
// default simulator.
var fixture = modbustest.Fixture[*Simulator, *Charger]{
	Start:  func(t testing.TB) *Simulator { return startSim(t, SimConfig{}) },
	Driver: func(t testing.TB, s *Simulator) *Charger { return newDriver(t, s, testPool(t), nil) },
	Dial:   dial,
}

func newDriver(t testing.TB, s *Simulator, pool *modbusx.Pool, edit func(*Options)) *Charger {
	t.Helper()
	o := DefaultOptions()
	o.PhaseSwitching = true
	o.FailsafeTimeout = int(s.cfg.FailsafeTimeout / time.Second)
	return modbustest.Build(t, New, modbustest.Settings(s.Addr(), 16), o, edit, pool)
}

// pollN polls until every rotating read has been done once.
func pollN(t testing.TB, c *Charger) charger.State {
	t.Helper()
	var st charger.State
	for range c.rot.Len() + 1 {
		st = poll(t, c)
	}
	return st
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func unitState(s *Simulator) StationSnapshot { return s.Snapshot().Stations[defaultUnit] }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{Serial: "2208A0123", Brand: "Webasto", Model: "Unite", Firmware: "v3.187.0"})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()

	st := pollN(t, c)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s / %s", st.IEC, st.Status)
	}
	want := charger.Identity{Brand: "Webasto", Model: "Unite", Serial: "2208A0123", Firmware: "v3.187.0"}
	if st.Identity != want {
		t.Fatalf("identity = %+v, want %+v", st.Identity, want)
	}
	if st.EnergyTotal == nil || !near(*st.EnergyTotal, 1234.5) {
		t.Fatalf("energy total = %v", st.EnergyTotal)
	}
	if st.SessionEnergy == nil || *st.SessionEnergy != 0 {
		t.Fatalf("session energy unplugged = %v", st.SessionEnergy)
	}
	// Delivered state: 5004 at the EVSE maximum, adopted by the driver.
	if st.CurrentLimit == nil || *st.CurrentLimit != 32 || !*st.Enabled || *st.Phases != 3 {
		t.Fatalf("as delivered: limit %v enabled %v phases %v", st.CurrentLimit, st.Enabled, st.Phases)
	}

	s.Plug(true)
	if err := c.SetCurrent(ctx, 10.7); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "charging at 10 A", func() bool {
		st = poll(t, c)
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && st.Currents[0] == 10
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || !*st.Enabled {
		t.Fatalf("charging state = %+v", st)
	}
	if !slices.Equal(st.Currents, []float64{10, 10, 10}) || !slices.Equal(st.Voltages, []float64{230, 230, 230}) {
		t.Fatalf("currents %v voltages %v", st.Currents, st.Voltages)
	}
	if st.Power == nil || *st.Power != 6900 {
		t.Fatalf("power = %v", st.Power)
	}
	waitFor(t, "session energy to grow", func() bool {
		st = poll(t, c)
		return st.SessionEnergy != nil && *st.SessionEnergy > 0.001
	})
	if st.ErrorCode != "" {
		t.Fatalf("error %q %q", st.ErrorCode, st.ErrorText)
	}

	s.SetFault(defaultUnit, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode == "" {
		t.Fatalf("fault: %s %s %q", st.IEC, st.Status, st.ErrorCode)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)

	if err := c.SetCurrent(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 12 {
		t.Fatalf("after SetCurrent: %+v", sk)
	}
	waitFor(t, "car at 12 A", func() bool { return unitState(s).Car.Currents[0] == 12 })

	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 0 || sk.Car.Charging || sk.CPState != 3 {
		t.Fatalf("disabled: %+v", sk)
	}
	st := poll(t, c)
	if *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: enabled %v status %s limit %v", *st.Enabled, st.Status, *st.CurrentLimit)
	}
	if err := c.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 0 {
		t.Fatalf("current applied while disabled: %v", sk.Setpoint)
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 8 {
		t.Fatalf("enable restored %v A, want 8", sk.Setpoint)
	}

	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one phase", func() bool {
		st = poll(t, c)
		return *st.Phases == 1 && st.Currents[0] == 8 && st.Currents[1] == 0
	})
	if err := c.SetPhases(ctx, 3); err != nil || unitState(s).ActivePhases != 3 {
		t.Fatalf("back to 3 phases: %v, sim %+v", err, unitState(s))
	}

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 16.1, -1, math.NaN(), math.Inf(1)} {
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
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

func TestPhaseSwitchingLimits(t *testing.T) {
	one := startSim(t, SimConfig{Phases: 1})
	c := newDriver(t, one, testPool(t), nil)
	if st := pollN(t, c); *st.Phases != 1 {
		t.Fatalf("one-phase installation shows %d phases", *st.Phases)
	}
	if err := c.SetPhases(context.Background(), 3); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("3 phases on a one-phase installation: %v", err)
	}
	old := startSim(t, SimConfig{NoPhaseSwitch: true})
	c2 := newDriver(t, old, testPool(t), nil)
	pollN(t, c2) // an unmapped 405 does not fail polls
	if err := c2.SetPhases(context.Background(), 1); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Fatalf("405 on old firmware: %v", err)
	}
	c3 := newDriver(t, old, testPool(t), func(o *Options) { o.PhaseSwitching = false })
	if err := c3.SetPhases(context.Background(), 1); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	var ch charger.Charger = fixedPhases{c3}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Fatal("fixedPhases offers phase switching")
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{FailsafeTimeout: 2 * time.Second, FailsafeCurrent: 7, MinCheck: 100 * time.Millisecond})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if err := c.SetCurrent(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 13 || sk.Failsafe || sk.Phases != 1 {
		t.Fatalf("setpoint not in force: %+v", sk)
	}
	waitFor(t, "fallback to the failsafe current", func() bool {
		sk := unitState(s)
		return sk.Fallbacks == 1 && sk.Failsafe && sk.Setpoint == 7
	})
	// The station cut the link: the next read finds it closed, modbusx
	// re-opens it, and the phase switch is back at its default.
	var st charger.State
	waitFor(t, "the driver to see the failsafe current", func() bool {
		st = poll(t, c)
		return *st.CurrentLimit == 7
	})
	if sk := unitState(s); sk.Phases != 3 {
		t.Fatalf("phase switch after the cut = %d, want the default 3", sk.Phases)
	}
	// The next refresh puts everything back.
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Failsafe || sk.Setpoint != 13 || sk.Phases != 1 {
		t.Fatalf("after refresh: %+v", sk)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	s := startSim(t, SimConfig{FailsafeTimeout: timeout, MinCheck: 100 * time.Millisecond})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != timeout/4 {
		t.Fatalf("refresh interval = %v, want a quarter of %v", iv, timeout)
	}
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3*timeout + timeout/2)
	sawAlive := false
	for time.Now().Before(end) {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		sawAlive = sawAlive || unitState(s).Alive == 1
		poll(t, c)
	}
	if sk := unitState(s); sk.Fallbacks != 0 || sk.Failsafe || sk.Setpoint != 11 {
		t.Fatalf("refreshed setpoint lapsed: %+v", sk)
	}
	if !sawAlive {
		t.Fatal("the alive register never read 1 after a refresh")
	}
}

func TestRefreshConfiguresFailsafe(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), func(o *Options) { o.FailsafeTimeout, o.FailsafeCurrent = 30, 10 })
	if iv := c.RefreshInterval(); iv != 7500*time.Millisecond {
		t.Fatalf("interval = %v", iv)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.FailsafeTimeout != 30 || sk.FailsafeCurrent != 10 {
		t.Fatalf("failsafe settings = %+v", sk)
	}
	writes := s.Counters().Writes
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes - writes; n != 1 {
		t.Fatalf("a refresh with nothing to put back wrote %d registers, want the alive register only", n)
	}
}
