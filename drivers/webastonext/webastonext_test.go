package webastonext

import (
	"context"
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

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	cfg.Car = modbustest.QuickCarIfUnset(cfg.Car)
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
	o.ComTimeout = int(s.cfg.ComTimeout / time.Second)
	return modbustest.Build(t, New, modbustest.Settings(s.Addr(), 16), o, edit, pool)
}

func unitState(s *Simulator) StationSnapshot { return s.Snapshot().Stations[defaultUnit] }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()

	st := poll(t, c)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s / %s", st.IEC, st.Status)
	}
	if st.Brand != "Webasto" || st.Model != "Next" || st.Serial != "" {
		t.Fatalf("identity = %+v", st.Identity)
	}
	if st.EnergyTotal == nil || *st.EnergyTotal != 1234.567 {
		t.Fatalf("energy total = %v", st.EnergyTotal)
	}
	// 5004 cannot be read: nothing is claimed before the first command.
	if st.CurrentLimit != nil || st.Enabled != nil || st.Phases != nil || st.Voltages != nil {
		t.Fatalf("invented values: limit %v enabled %v phases %v volts %v", st.CurrentLimit, st.Enabled, st.Phases, st.Voltages)
	}

	s.Plug(true)
	if st = poll(t, c); st.Status != charger.StatusConnected || st.IEC != charger.IECB {
		t.Fatalf("plugged: %s / %s", st.IEC, st.Status)
	}
	if err := c.SetCurrent(ctx, 10.9); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "charging at 10 A", func() bool {
		st = poll(t, c)
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && st.Currents[0] == 10
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || !*st.Enabled || *st.Phases != 3 {
		t.Fatalf("charging state = %+v", st)
	}
	if !slices.Equal(st.Currents, []float64{10, 10, 10}) || st.Power == nil || *st.Power != 6900 {
		t.Fatalf("currents %v power %v", st.Currents, st.Power)
	}
	waitFor(t, "session energy to grow", func() bool {
		st = poll(t, c)
		return st.SessionEnergy != nil && *st.SessionEnergy >= 0.001
	})
	if st.ErrorCode != "" {
		t.Fatalf("error %q %q", st.ErrorCode, st.ErrorText)
	}

	s.SetFault(defaultUnit, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "error 31" {
		t.Fatalf("fault: %s %s %q", st.IEC, st.Status, st.ErrorCode)
	}
}

func TestOnePhaseStation(t *testing.T) {
	s := startSim(t, SimConfig{Phases: 1})
	c := newDriver(t, s, testPool(t), nil)
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 16); err != nil {
		t.Fatal(err)
	}
	var st charger.State
	waitFor(t, "charging", func() bool { st = poll(t, c); return st.Status == charger.StatusCharging })
	waitFor(t, "16 A on L1", func() bool { st = poll(t, c); return st.Currents[0] == 16 })
	if *st.Phases != 1 || st.Currents[1] != 0 || *st.Power != 3680 {
		t.Fatalf("one phase: phases %v currents %v power %v", *st.Phases, st.Currents, *st.Power)
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
	if sk := unitState(s); sk.Setpoint != 12 || sk.Applied != 12 {
		t.Fatalf("after SetCurrent: %+v", sk)
	}
	waitFor(t, "car at 12 A", func() bool { return unitState(s).Car.Currents[0] == 12 })

	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Setpoint != 0 || sk.Car.Charging || sk.CPState != 4 {
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

	// Power: 2760 W on three phases is 4 A, below the minimum: 0.
	if err := c.SetPower(ctx, 2760); err != nil || unitState(s).Setpoint != 0 {
		t.Fatalf("2760 W: %v, setpoint %d", err, unitState(s).Setpoint)
	}
	if err := c.SetPower(ctx, 6900); err != nil || unitState(s).Setpoint != 10 {
		t.Fatalf("6900 W: %v, setpoint %d", err, unitState(s).Setpoint)
	}
	if err := c.CancelSession(ctx); err != nil || !unitState(s).Cancelled || unitState(s).Applied != 0 {
		t.Fatalf("cancel: %v, %+v", err, unitState(s))
	}
	if err := c.StartSession(ctx); err != nil || unitState(s).Cancelled {
		t.Fatalf("start: %v, %+v", err, unitState(s))
	}

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 16.1, -1, math.NaN(), math.Inf(1)} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	for _, bad := range []float64{-1, 30000, math.NaN()} {
		if err := c.SetPower(ctx, bad); err == nil {
			t.Errorf("SetPower(%v) accepted", bad)
		}
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the station")
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{ComTimeout: 2 * time.Second, SafeCurrent: 7})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	if err := c.SetCurrent(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Applied != 13 || sk.Lapsed {
		t.Fatalf("setpoint not in force: %+v", sk)
	}
	waitFor(t, "fallback to the safe current", func() bool {
		sk := unitState(s)
		return sk.Fallbacks == 1 && sk.Lapsed && sk.Applied == 7
	})
	waitFor(t, "the car at the safe current", func() bool { return poll(t, c).Currents[0] == 7 })
	// The next refresh puts the current back.
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Lapsed || sk.Applied != 13 {
		t.Fatalf("after refresh: %+v", sk)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	s := startSim(t, SimConfig{ComTimeout: timeout})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != timeout/4 {
		t.Fatalf("refresh interval = %v, want a quarter of %v", iv, timeout)
	}
	s.Plug(true)
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3*timeout + timeout/2)
	sawLife := false
	for time.Now().Before(end) {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		sawLife = sawLife || unitState(s).LifeBit == 1
		poll(t, c)
	}
	if sk := unitState(s); sk.Fallbacks != 0 || sk.Lapsed || sk.Applied != 11 {
		t.Fatalf("refreshed setpoint lapsed: %+v", sk)
	}
	if !sawLife {
		t.Fatal("the life bit never read 1 after a refresh")
	}
}

func TestRefreshConfiguresStation(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), func(o *Options) { o.ComTimeout, o.SafeCurrent = 30, 10 })
	if iv := c.RefreshInterval(); iv != 7500*time.Millisecond {
		t.Fatalf("interval = %v", iv)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.ComTimeout != 30 || sk.Safe != 10 {
		t.Fatalf("settings = %+v", sk)
	}
	writes := s.Counters().Writes
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes - writes; n != 1 {
		t.Fatalf("a refresh with nothing to put back wrote %d registers, want the life bit only", n)
	}
}
