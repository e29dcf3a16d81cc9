package phoenix

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
	if cfg.MaxMasters == 0 {
		cfg.MaxMasters = 8 // tests open several pools (and coil links) at once
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

func unitState(s *Simulator) UnitSnapshot { return s.Snapshot().Units[defaultUnit] }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{Serial: "1018701X0042", Name: "Walli EV", Firmware: "1.31"})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()

	st := pollN(t, c)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || st.ErrorCode != "" {
		t.Fatalf("unplugged: %s / %s %q", st.IEC, st.Status, st.ErrorCode)
	}
	want := charger.Identity{Brand: "Phoenix Contact", Model: "Walli EV", Serial: "1018701X0042", Firmware: "1.31"}
	if st.Identity != want {
		t.Fatalf("identity = %+v, want %+v", st.Identity, want)
	}
	if st.EnergyTotal == nil || *st.EnergyTotal != 1234.567 || st.SessionEnergy == nil || *st.SessionEnergy != 0 {
		t.Fatalf("energy total %v session %v", st.EnergyTotal, st.SessionEnergy)
	}
	// The controller's defaults, adopted: 16 A, enabled.
	if st.CurrentLimit == nil || *st.CurrentLimit != 16 || st.Enabled == nil || !*st.Enabled {
		t.Fatalf("defaults: limit %v enabled %v", st.CurrentLimit, st.Enabled)
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
		t.Fatalf("range %v %v %v", lo, hi, step)
	}

	s.Plug(true)
	if err := c.SetCurrent(ctx, 10.9); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "charging at 10 A", func() bool {
		st = poll(t, c)
		return st.Status == charger.StatusCharging && st.Power != nil && *st.Power == 6900
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || !*st.Enabled || *st.Phases != 3 {
		t.Fatalf("charging state = %+v", st)
	}
	if !slices.Equal(st.Currents, []float64{10, 10, 10}) || !slices.Equal(st.Voltages, []float64{230, 230, 230}) {
		t.Fatalf("currents %v voltages %v", st.Currents, st.Voltages)
	}
	waitFor(t, "session energy to grow", func() bool {
		st = poll(t, c)
		return st.SessionEnergy != nil && *st.SessionEnergy >= 0.001
	})
	if got := *st.EnergyTotal - 1234.567; math.Abs(got-*st.SessionEnergy) > 0.0015 {
		t.Fatalf("session %v kWh vs lifetime delta %v kWh", *st.SessionEnergy, got)
	}

	s.SetFault(defaultUnit, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "error 12" || st.ErrorText != "contactor fault" {
		t.Fatalf("fault: %s %s %q %q", st.IEC, st.Status, st.ErrorCode, st.ErrorText)
	}
}

// TestWallbeFirmware: 528 in 0.1 A, found by "auto" from the first
// reading; the currents in mA (the open question of UM) are recognised.
func TestWallbeFirmware(t *testing.T) {
	s := startSim(t, SimConfig{Wallbe: true, Milliamps: true})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	// A command before any poll learns the variant first.
	if err := c.SetCurrent(ctx, 10.57); err != nil {
		t.Fatal(err)
	}
	if u := unitState(s); u.Raw != 105 || u.Setpoint != 10.5 {
		t.Fatalf("wallbe setpoint: %+v", u)
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 0.1 {
		t.Fatalf("range %v %v %v", lo, hi, step)
	}
	var st charger.State
	waitFor(t, "charging at 10.5 A", func() bool {
		st = poll(t, c)
		return len(st.Currents) == 3 && st.Currents[0] == 10.5
	})
	st = pollN(t, c)
	if st.Brand != "wallbe" || st.Firmware != "WB-2.1.9" || *st.CurrentLimit != 10.5 {
		t.Fatalf("wallbe state: %+v", st)
	}
	// Forcing the variant skips the detection read.
	forced := newDriver(t, s, testPool(t), func(o *Options) { o.Variant = VariantWallbe })
	reads := s.Counters().Reads
	if err := forced.SetCurrent(ctx, 7); err != nil || s.Counters().Reads != reads || unitState(s).Raw != 70 {
		t.Fatalf("forced wallbe: %v, %d reads, %+v", err, s.Counters().Reads-reads, unitState(s))
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
	waitFor(t, "car at 12 A", func() bool { return unitState(s).Car.Currents[0] == 12 })

	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if u := unitState(s); u.Enabled || u.Car.Charging || u.Status != "B" || u.Setpoint != 12 {
		t.Fatalf("disabled: %+v", u)
	}
	st := poll(t, c)
	if *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 12 {
		t.Fatalf("disabled state: enabled %v status %s limit %v", *st.Enabled, st.Status, *st.CurrentLimit)
	}
	if err := c.SetCurrent(ctx, 8); err != nil || unitState(s).Setpoint != 8 || unitState(s).Enabled {
		t.Fatalf("current while disabled: %v %+v", err, unitState(s))
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "car at 8 A", func() bool { return unitState(s).Car.Currents[0] == 8 })

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 16.1, -1, math.NaN(), math.Inf(1)} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the controller")
	}
}

// TestRestartWithoutRefresh: the controller has no watchdog; its
// "fallback" is a restart, after which its defaults apply until the
// driver writes again.
func TestRestartWithoutRefresh(t *testing.T) {
	s := startSim(t, SimConfig{DefaultCurrent: 20})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if err := c.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Nothing lapses with time alone.
	poll(t, c)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes; n != 2 {
		t.Fatalf("a refresh with nothing lost wrote: %d writes in all", n)
	}
	s.Restart(defaultUnit)
	if u := unitState(s); u.Setpoint != 20 || !u.Enabled {
		t.Fatalf("restart did not bring the defaults: %+v", u)
	}
	st := pollN(t, c)
	if *st.CurrentLimit != 20 || !*st.Enabled {
		t.Fatalf("after restart the driver shows %v A, enabled %v", *st.CurrentLimit, *st.Enabled)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if u := unitState(s); u.Setpoint != 9 || u.Enabled {
		t.Fatalf("refresh did not restore: %+v", u)
	}
}

// TestRestartHeldByRefresh runs the core's cycle (poll, refresh) across
// restarts: what the driver set comes back each time.
func TestRestartHeldByRefresh(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), func(o *Options) { o.Reapply = 1 })
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != time.Second {
		t.Fatalf("interval = %v", iv)
	}
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.Restart(defaultUnit)
		pollN(t, c)
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if u := unitState(s); u.Setpoint != 11 || !u.Enabled || u.Restarts != i+1 {
			t.Fatalf("restart %d: %+v", i+1, u)
		}
	}
	off := newDriver(t, s, testPool(t), func(o *Options) { o.Reapply = 0 })
	if off.RefreshInterval() != 0 {
		t.Fatal("reapply 0 still refreshes")
	}
}

func TestOptions(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.UnitID = 0 },
		func(o *Options) { o.UnitID = 256 },
		func(o *Options) { o.Variant = "keba" },
		func(o *Options) { o.Variant = "" },
		func(o *Options) { o.Reapply = -1 },
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
	if _, err := New(charger.Settings{Address: "10.0.0.1"}, Options{UnitID: 1, Variant: "x"}, nil, testPool(t)); err == nil {
		t.Fatal("New accepted a bad variant")
	}
}
