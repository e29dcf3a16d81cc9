package alfen

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
	o.PhaseSwitching = true
	o.Validity = int(s.cfg.Validity / time.Second)
	return modbustest.Build(t, New, modbustest.Settings(s.Addr(), 16), o, edit, pool)
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{Serial: "ACE0287582", Firmware: "6.1.0-4159"})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()

	st := poll(t, c) // first poll: unplugged, identity read
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s / %s", st.IEC, st.Status)
	}
	want := charger.Identity{Brand: "Alfen", Model: "NG910", Serial: "ACE0287582", Firmware: "6.1.0-4159"}
	if st.Identity != want {
		t.Fatalf("identity = %+v, want %+v", st.Identity, want)
	}
	if st.SessionEnergy != nil {
		t.Fatalf("session energy before any plug-in: %v", *st.SessionEnergy)
	}
	if st.EnergyTotal == nil || !near(*st.EnergyTotal, 1234.567) {
		t.Fatalf("energy total = %v", st.EnergyTotal)
	}
	if st.CurrentLimit == nil || *st.CurrentLimit != 6 || st.Enabled == nil || !*st.Enabled {
		t.Fatalf("no setpoint yet: the safe current applies, got limit %v enabled %v", st.CurrentLimit, st.Enabled)
	}

	s.Plug(true)
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "charging at 10 A", func() bool {
		st = poll(t, c)
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && st.Currents[0] == 10
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || !*st.Enabled || *st.Phases != 3 {
		t.Fatalf("charging state = %+v", st)
	}
	if !slices.Equal(st.Currents, []float64{10, 10, 10}) || !slices.Equal(st.Voltages, []float64{230, 230, 230}) {
		t.Fatalf("currents %v voltages %v", st.Currents, st.Voltages)
	}
	if st.Power == nil || !near(*st.Power, 6900) {
		t.Fatalf("power = %v", st.Power)
	}
	if st.Temperature == nil || *st.Temperature < 30 {
		t.Fatalf("temperature = %v", st.Temperature)
	}
	waitFor(t, "session energy to grow", func() bool {
		st = poll(t, c)
		return st.SessionEnergy != nil && *st.SessionEnergy > 0
	})
	if got := *st.EnergyTotal - 1234.567; math.Abs(got-*st.SessionEnergy) > 0.01 {
		t.Fatalf("session %v kWh vs lifetime delta %v kWh", *st.SessionEnergy, got)
	}
	if st.ErrorCode != "" {
		t.Fatalf("error %q %q", st.ErrorCode, st.ErrorText)
	}

	s.SetFault(1, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "F" {
		t.Fatalf("fault: %s %s %q", st.IEC, st.Status, st.ErrorCode)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	sock := func() SocketSnapshot { return s.Snapshot().Sockets[0] }

	if err := c.SetCurrent(ctx, 12.5); err != nil {
		t.Fatal(err)
	}
	if sk := sock(); sk.Setpoint != 12.5 || !sk.SetpointValid || sk.Applied != 12.5 {
		t.Fatalf("after SetCurrent: %+v", sk)
	}
	waitFor(t, "car at 12.5 A", func() bool { return sock().Car.Currents[0] == 12.5 })

	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sk := sock(); sk.Setpoint != 0 || sk.Car.Charging {
		t.Fatalf("disabled: %+v", sk)
	}
	st := poll(t, c)
	if *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: enabled %v status %s limit %v", *st.Enabled, st.Status, *st.CurrentLimit)
	}
	// A current set while disabled waits for the enable.
	if err := c.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if sk := sock(); sk.Setpoint != 0 {
		t.Fatalf("current applied while disabled: %v", sk.Setpoint)
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sk := sock(); sk.Setpoint != 8 {
		t.Fatalf("enable restored %v A, want 8", sk.Setpoint)
	}

	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one phase", func() bool {
		st = poll(t, c)
		return st.Phases != nil && *st.Phases == 1 && st.Currents[0] == 8 && st.Currents[1] == 0
	})
	if err := c.SetPhases(ctx, 3); err != nil || sock().Phases != 3 {
		t.Fatalf("back to 3 phases: %v, sim %d", err, sock().Phases)
	}

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 16.1, -1, math.NaN()} {
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
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 0.1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

func TestPhaseSwitchingOff(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), func(o *Options) { o.PhaseSwitching = false })
	if err := c.SetPhases(context.Background(), 1); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	var ch charger.Charger = fixedPhases{c}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Fatal("fixedPhases offers phase switching")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Fatal("fixedPhases lost the watchdog")
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Validity: 2 * time.Second, SafeCurrent: 7})
	c := newDriver(t, s, testPool(t), nil)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	if sk := s.Snapshot().Sockets[0]; !sk.SetpointValid || sk.Applied != 13 {
		t.Fatalf("setpoint not in force: %+v", sk)
	}
	waitFor(t, "fallback to the safe current", func() bool {
		sk := s.Snapshot().Sockets[0]
		return sk.Fallbacks == 1 && sk.Applied == 7 && !sk.SetpointValid
	})
	st := poll(t, c)
	if *st.CurrentLimit != 7 {
		t.Fatalf("limit after fallback = %v, want the safe 7 A", *st.CurrentLimit)
	}
	// The next refresh puts the setpoint back.
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sk := s.Snapshot().Sockets[0]; sk.Applied != 13 {
		t.Fatalf("after refresh: %+v", sk)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const validity = 3 * time.Second
	s := startSim(t, SimConfig{Validity: validity})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != time.Second {
		t.Fatalf("refresh interval = %v, want a third of %v", iv, validity)
	}
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3*validity + validity/2)
	for time.Now().Before(end) {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		poll(t, c)
	}
	if sk := s.Snapshot().Sockets[0]; sk.Fallbacks != 0 || !sk.SetpointValid || sk.Applied != 11 {
		t.Fatalf("refreshed setpoint lapsed: %+v", sk)
	}
}

func TestAdoptsStationSetpoint(t *testing.T) {
	s := startSim(t, SimConfig{})
	pool := testPool(t)
	ctx := context.Background()
	// Before this process: another master set 11 A.
	raw, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	// Nothing known: a refresh writes nothing.
	c := newDriver(t, s, pool, nil)
	poll(t, c)
	if err := c.Refresh(ctx); err != nil || s.Counters().Writes != 0 {
		t.Fatalf("refresh without a setpoint wrote: %v, %d writes", err, s.Counters().Writes)
	}
	if err := raw.Write(ctx, regSetpoint, modbusx.EncodeFloat32(11, modbusx.HighWordFirst)); err != nil {
		t.Fatal(err)
	}
	c2 := newDriver(t, s, pool, nil)
	if st := poll(t, c2); !*st.Enabled || *st.CurrentLimit != 11 {
		t.Fatalf("state = %+v", st)
	}
	if err := c2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := s.Snapshot().Sockets[0]; sk.Setpoint != 11 || s.Counters().Writes != 2 {
		t.Fatalf("refresh changed the setpoint: %+v, %d writes", sk, s.Counters().Writes)
	}
}

func TestOptions(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.Socket = 3 },
		func(o *Options) { o.Socket = 0 },
		func(o *Options) { o.UnitID = 256 },
		func(o *Options) { o.StationUnitID = -1 },
		func(o *Options) { o.Validity = 0 },
	}
	for i, edit := range bad {
		o := DefaultOptions()
		edit(&o)
		if o.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
	}
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(charger.Settings{Address: "10.0.0.1"}, Options{Socket: 5}, nil, modbusx.NewPool(modbusx.PoolConfig{})); err == nil {
		t.Fatal("New accepted socket 5")
	}
}
