package heidelberg

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
	return modbustest.Build(t, New, modbustest.Settings(addr, 16), o, edit, pool)
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()

	st := pollUntil(t, c, "identity", func(st charger.State) bool { return st.Firmware != "" })
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle {
		t.Fatalf("unplugged: %s / %s", st.IEC, st.Status)
	}
	want := charger.Identity{Brand: "Heidelberg", Model: "Energy Control 16 A", Serial: "HEC-00001001", Firmware: "rev 2480 (hw variant 1)"}
	if st.Identity != want {
		t.Fatalf("identity = %+v, want %+v", st.Identity, want)
	}
	if !near(*st.EnergyTotal, 1234.567) || *st.CurrentLimit != 16 || !*st.Enabled || *st.Temperature != 25 {
		t.Fatalf("idle state = %+v", st)
	}
	if !slices.Equal(st.Voltages, []float64{230, 230, 230}) || !slices.Equal(st.Currents, []float64{0, 0, 0}) ||
		st.Phases != nil || st.SessionEnergy != nil {
		t.Fatalf("idle meter: %+v", st)
	}
	if sn := s.Snapshot().Boxes[1]; sn.Standby != standbyOff {
		t.Fatalf("standby not disabled: %d", sn.Standby)
	}

	s.Plug(true)
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	st = pollUntil(t, c, "charging at 10 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && slices.Equal(st.Currents, []float64{10, 10, 10}) && *st.Power == 6900
	})
	if st.IEC != charger.IECC || *st.CurrentLimit != 10 || *st.Phases != 3 || !near(*st.Temperature, 30) {
		t.Fatalf("charging: limit %v power %v phases %v temp %v", *st.CurrentLimit, *st.Power, *st.Phases, *st.Temperature)
	}
	st = pollUntil(t, c, "session energy", func(st charger.State) bool {
		return st.SessionEnergy != nil && *st.SessionEnergy > 0
	})
	if got := *st.EnergyTotal - 1234.567; math.Abs(got-*st.SessionEnergy) > 0.002 {
		t.Fatalf("session %v kWh vs lifetime delta %v kWh", *st.SessionEnergy, got)
	}
	s.SetFault(1, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "error" {
		t.Fatalf("fault: %s %s %q", st.IEC, st.Status, st.ErrorCode)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	pool := testPool(t)
	c := newDriver(t, s.Addr(), pool, nil)
	ctx := context.Background()
	s.Plug(true)
	box := func() BoxSnapshot { return s.Snapshot().Boxes[1] }

	if err := c.SetCurrent(ctx, 12.5); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Setpoint != 12.5 || b.Applied != 12.5 {
		t.Fatalf("after SetCurrent: %+v", b)
	}
	waitFor(t, "car at 12.5 A", func() bool { return box().Car.Currents[0] == 12.5 })
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Setpoint != 0 || b.Car.Charging {
		t.Fatalf("disabled: %+v", b)
	}
	st := poll(t, c)
	if *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 || st.IEC != charger.IECC {
		t.Fatalf("disabled state: %+v", st)
	}
	if err := c.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Setpoint != 0 {
		t.Fatalf("current applied while disabled: %v", b.Setpoint)
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Setpoint != 8 {
		t.Fatalf("enable restored %v A, want 8", b.Setpoint)
	}

	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 16.1, -1, math.NaN()} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the box")
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 0.1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}

	// Remote lock (259 = 0), set by another master: state F, locked.
	raw, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Framing: modbusx.RTUOverTCP, Unit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.WriteSingle(ctx, regRemoteLock, 0); err != nil {
		t.Fatal(err)
	}
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusUnavailable || st.ErrorCode != "locked" || *st.Enabled {
		t.Fatalf("locked: %+v", st)
	}
}

func TestOptionsWritten(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) {
		o.WatchdogTimeout, o.FailsafeCurrent, o.Standby = 6000, charger.Ptr(6.0), "keep"
	})
	if iv := c.RefreshInterval(); iv != 2*time.Second {
		t.Fatalf("refresh interval before a poll = %v, want a third of the option", iv)
	}
	poll(t, c)
	if b := s.Snapshot().Boxes[1]; b.Watchdog != 6*time.Second || b.Failsafe != 6 || b.Standby != 0 {
		t.Fatalf("box = %+v", b)
	}
	writes := s.Counters().Writes
	poll(t, c)
	if s.Counters().Writes != writes {
		t.Fatal("settings written again")
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{WatchdogMS: 600, FailsafeCurrent: 7})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "watchdog fallback", func() bool {
		b := s.Snapshot().Boxes[1]
		return b.Tripped && b.Fallbacks >= 1 && b.Applied == 7
	})
	if st := poll(t, c); *st.CurrentLimit != 7 {
		t.Fatalf("limit after fallback = %v, want the failsafe 7 A", *st.CurrentLimit)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := s.Snapshot().Boxes[1]; b.Tripped || b.Applied != 13 {
		t.Fatalf("after refresh: %+v", b)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const timeout = 900 * time.Millisecond
	s := startSim(t, SimConfig{WatchdogMS: uint16(timeout / time.Millisecond)})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	poll(t, c)
	if iv := c.RefreshInterval(); iv != timeout/3 {
		t.Fatalf("refresh interval = %v, want a third of %v", iv, timeout)
	}
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * timeout); time.Now().Before(end); {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b := s.Snapshot().Boxes[1]; b.Fallbacks != 0 || b.Applied != 11 {
		t.Fatalf("refreshed box fell back: %+v", b)
	}
}

func TestTwoBoxesOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}})
	pool := testPool(t)
	one := newDriver(t, s.Addr(), pool, nil)
	two := newDriver(t, s.Addr(), pool, func(o *Options) { o.UnitID = 2 })
	ctx := context.Background()
	s.PlugUnit(2, true)
	if err := two.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := one.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if snap.Boxes[1].Setpoint != 0 || snap.Boxes[2].Setpoint != 9 {
		t.Fatalf("setpoints = %v / %v", snap.Boxes[1].Setpoint, snap.Boxes[2].Setpoint)
	}
	pollUntil(t, two, "box 2 charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	a := pollUntil(t, one, "box 1 identity", func(st charger.State) bool { return st.Serial != "" })
	b := pollUntil(t, two, "box 2 identity", func(st charger.State) bool { return st.Serial != "" })
	if a.Status != charger.StatusNoVehicle || *a.Enabled || *b.CurrentLimit != 9 || a.Serial == b.Serial {
		t.Fatalf("box 1 %s enabled %v serial %q, box 2 limit %v serial %q", a.Status, *a.Enabled, a.Serial, *b.CurrentLimit, b.Serial)
	}
	if m := s.Snapshot().Masters; m != 1 {
		t.Fatalf("gateway saw %d connections, want 1", m)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 {
		t.Fatalf("pool = %+v", st)
	}
	// A third unit id with no box: silence on the bus, a timeout here,
	// and the two boxes go on.
	ghost, err := New(charger.Settings{Address: s.Addr(), Timeout: 200 * time.Millisecond}, Options{UnitID: 3,
		Framing: "rtu_over_tcp", Standby: "keep"}, nil, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer ghost.Close()
	if _, err := ghost.Poll(ctx); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("absent unit: %v, want a timeout", err)
	}
	waitFor(t, "box 1 again", func() bool { _, err := one.Poll(ctx); return err == nil })
	poll(t, two)
}

func TestTCPGateway(t *testing.T) {
	s := startSim(t, SimConfig{Framing: "tcp"})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Framing = "tcp" })
	if st := poll(t, c); st.Status != charger.StatusNoVehicle || *st.CurrentLimit != 16 {
		t.Fatalf("state over a TCP gateway: %+v", st)
	}
	ghost := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Framing, o.UnitID = "tcp", 9 })
	if _, err := ghost.Poll(context.Background()); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Fatalf("absent unit: %v, want gateway target failed", err)
	}
}

func TestOptions(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.UnitID = 0 },
		func(o *Options) { o.UnitID = 248 },
		func(o *Options) { o.Framing = "ascii" },
		func(o *Options) { o.WatchdogTimeout = 500 },
		func(o *Options) { o.WatchdogTimeout = 70000 },
		func(o *Options) { o.FailsafeCurrent = charger.Ptr(3.0) },
		func(o *Options) { o.FailsafeCurrent = charger.Ptr(math.NaN()) },
		func(o *Options) { o.Standby = "off" },
	}
	for i, edit := range bad {
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
