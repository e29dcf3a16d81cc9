package abl

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
	return modbustest.Build(t, New, modbustest.Settings(addr, 32), o, edit, pool)
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()

	st := poll(t, c)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || st.Brand != "ABL" || st.Model != "eM4" {
		t.Fatalf("unplugged: %+v", st)
	}
	if !near(*st.EnergyTotal, 1234.56) || *st.CurrentLimit != 16 || !*st.Enabled || st.Phases != nil || st.SessionEnergy != nil {
		t.Fatalf("idle state = %+v", st)
	}
	if !slices.Equal(st.Voltages, []float64{230, 230, 230}) || !slices.Equal(st.Currents, []float64{0, 0, 0}) {
		t.Fatalf("idle meter: %v %v", st.Voltages, st.Currents)
	}
	s.Plug(true)
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	st = pollUntil(t, c, "charging at 10 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && slices.Equal(st.Currents, []float64{10, 10, 10}) && *st.Power == 6900
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || *st.Phases != 3 {
		t.Fatalf("charging state = %+v", st)
	}
	st = pollUntil(t, c, "session energy", func(st charger.State) bool {
		return st.SessionEnergy != nil && *st.SessionEnergy > 0
	})
	if got := *st.EnergyTotal - 1234.56; math.Abs(got-*st.SessionEnergy) > 0.011 {
		t.Fatalf("session %v kWh vs lifetime delta %v kWh", *st.SessionEnergy, got)
	}
	s.SetFault(1, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "F2" || st.ErrorText != "internal error" {
		t.Fatalf("fault: %+v", st)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	conn := func() ConnectorSnapshot { return s.Snapshot().Connectors[0] }
	if err := c.SetCurrent(ctx, 12.5); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "car at 12.5 A", func() bool { return conn().Car.Currents[0] == 12.5 })
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if cs := conn(); cs.Setpoint != 0 || cs.Car.Charging || cs.State != 0xB1 {
		t.Fatalf("disabled: %+v", cs)
	}
	if st := poll(t, c); *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: %+v", st)
	}
	if err := c.SetCurrent(ctx, 8); err != nil || conn().Setpoint != 0 {
		t.Fatalf("current while disabled: %v, %v", err, conn().Setpoint)
	}
	if err := c.SetEnabled(ctx, true); err != nil || conn().Setpoint != 8 {
		t.Fatalf("enable: %v, %v", err, conn().Setpoint)
	}
	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 32.1, -1, math.NaN()} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the box")
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 32 || step != 0.1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

func TestTwinOneConnection(t *testing.T) {
	s := startSim(t, SimConfig{Connectors: 2})
	pool := testPool(t)
	one := newDriver(t, s.Addr(), pool, nil)
	two := newDriver(t, s.Addr(), pool, func(o *Options) { o.Connector = 2 })
	ctx := context.Background()
	s.PlugConnector(2, true)
	if err := two.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := one.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Connectors[0].Setpoint != 0 || sn.Connectors[1].Setpoint != 9 {
		t.Fatalf("setpoints %+v", sn.Connectors)
	}
	pollUntil(t, two, "connector 2 charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if st := poll(t, one); st.Status != charger.StatusNoVehicle || *st.Enabled {
		t.Fatalf("connector 1: %+v", st)
	}
	if st := pool.Stats(); st.Dials != 1 || s.Snapshot().Masters != 1 {
		t.Fatalf("pool = %+v", st)
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{UpstreamTimeout: 600 * time.Millisecond})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.WatchdogTimeout = 1 })
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "F4", func() bool { cs := s.Snapshot().Connectors[0]; return cs.TimedOut && cs.Applied == 0 })
	if st := poll(t, c); st.ErrorCode != "F4" || st.Status != charger.StatusError {
		t.Fatalf("after the timeout: %+v", st)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cs := s.Snapshot().Connectors[0]; cs.TimedOut || cs.Applied != 13 {
		t.Fatalf("after refresh: %+v", cs)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{UpstreamTimeout: 900 * time.Millisecond})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.WatchdogTimeout = 1 })
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != time.Second/3 {
		t.Fatalf("refresh interval = %v", iv)
	}
	if err := c.Refresh(ctx); err != nil { // adopts the box's 16 A
		t.Fatal(err)
	}
	if writes := s.Counters().Writes; writes != 0 {
		t.Fatalf("adopting wrote %d times", writes)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if cs := s.Snapshot().Connectors[0]; cs.Fallbacks != 0 || cs.Applied != 16 {
		t.Fatalf("refreshed box timed out: %+v", cs)
	}
}

func TestOptions(t *testing.T) {
	for i, edit := range []func(*Options){
		func(o *Options) { o.Connector = 3 },
		func(o *Options) { o.UnitID = 0 },
		func(o *Options) { o.UnitID = 256 },
		func(o *Options) { o.WatchdogTimeout = -1 },
	} {
		o := DefaultOptions()
		edit(&o)
		if o.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
	}
	if o := DefaultOptions(); o.Validate() != nil {
		t.Fatal("defaults invalid")
	}
}
