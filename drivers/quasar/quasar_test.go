package quasar

import (
	"context"
	"math"
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

// newDriver connects a driver allowed 16 A whose idle timeout is the
// simulator's.
func newDriver(t testing.TB, s *Simulator, pool *modbusx.Pool, edit func(*Options)) *Charger {
	t.Helper()
	o := DefaultOptions()
	o.IdleTimeout = int(s.cfg.IdleTimeout / time.Second)
	return modbustest.Build(t, New, modbustest.Settings(s.Addr(), 16), o, edit, pool)
}

func unitState(s *Simulator) StationSnapshot { return s.Snapshot().Stations[defaultUnit] }

// plainClient is another master on the simulator, without the driver.
func plainClient(t *testing.T, s *Simulator, pool *modbusx.Pool) *modbusx.Client {
	t.Helper()
	cl, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: defaultUnit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{Car: modbustest.QuickCar()})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()

	st := poll(t, c)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || st.ErrorCode != "" {
		t.Fatalf("unplugged: %s / %s / %q", st.IEC, st.Status, st.ErrorCode)
	}
	if st.Power == nil || *st.Power != 0 {
		t.Fatalf("power = %v", st.Power)
	}
	// User control: the app decides, nothing is claimed.
	if st.Enabled != nil || st.CurrentLimit != nil || st.Phases != nil || st.Currents != nil || st.EnergyTotal != nil {
		t.Fatalf("invented values: %+v", st)
	}
	if st.VehicleSoC != nil {
		t.Fatal("SoC without a car")
	}
	st = poll(t, c) // the second poll reads the identity
	if st.Brand != "Wallbox" || st.Model != "Quasar 1" || st.Firmware != "604" || st.Serial != "123456789" {
		t.Fatalf("identity = %+v", st.Identity)
	}

	s.Plug(true)
	if st = poll(t, c); st.IEC != charger.IECB || st.Status != charger.StatusPaused {
		t.Fatalf("plugged: %s / %s", st.IEC, st.Status)
	}
	if st.VehicleSoC == nil || *st.VehicleSoC != 40 {
		t.Fatalf("SoC = %v", st.VehicleSoC)
	}
	if err := c.SetCurrent(ctx, 10.9); err != nil {
		t.Fatal(err)
	}
	st = modbustest.PollUntil(t, c, "charging at 10 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && st.Power != nil && *st.Power == 2300
	})
	if st.IEC != charger.IECC || st.CurrentLimit == nil || *st.CurrentLimit != 10 || st.Enabled == nil || !*st.Enabled {
		t.Fatalf("charging state = %+v", st)
	}
	if st.Serial != "123456789" || st.Firmware != "604" {
		t.Fatalf("identity lost: %+v", st.Identity)
	}

	s.SetFault(defaultUnit, true)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "0012-0000-0000-0000" || st.ErrorText == "" {
		t.Fatalf("fault: %s %s %q %q", st.IEC, st.Status, st.ErrorCode, st.ErrorText)
	}
}

func TestSoCRisesWhileCharging(t *testing.T) {
	car := modbustest.QuickCar()
	car.BatteryKWh = 0.1 // about 1 % a second at 16 A
	s := startSim(t, SimConfig{Car: car})
	c := newDriver(t, s, testPool(t), nil)
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 16); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SoC to rise", func() bool {
		st := poll(t, c)
		return st.VehicleSoC != nil && *st.VehicleSoC >= 42
	})
}

// TestDischargeShowsNegativePower: another master discharges the car (the
// driver never does); the driver reports the power negative, the car as
// plugged in and not charging, and offers nothing.
func TestDischargeShowsNegativePower(t *testing.T) {
	car := modbustest.QuickCar()
	car.BatteryKWh = 0.1
	s := startSim(t, SimConfig{Car: car})
	pool := testPool(t)
	c := newDriver(t, s, pool, nil)
	s.Plug(true)
	ctx := context.Background()
	cl := plainClient(t, s, pool)
	for _, w := range [][2]uint16{{regControl, 1}, {regSetpointTyp, 0}, {regCurrent, uint16(0xffff - 9)}, {regAction, 1}} {
		if err := cl.WriteSingle(ctx, w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	st := poll(t, c)
	if st.Power == nil || *st.Power != -2300 || st.IEC != charger.IECB || st.Status != charger.StatusConnected {
		t.Fatalf("discharging: power %v, %s / %s", st.Power, st.IEC, st.Status)
	}
	if st.CurrentLimit == nil || *st.CurrentLimit != 0 || st.Enabled == nil || !*st.Enabled {
		t.Fatalf("discharging: limit %v enabled %v", st.CurrentLimit, st.Enabled)
	}
	waitFor(t, "the SoC to fall", func() bool {
		st := poll(t, c)
		return st.VehicleSoC != nil && *st.VehicleSoC <= 38
	})
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)

	if err := c.SetCurrent(ctx, 12); err != nil {
		t.Fatal(err)
	}
	sk := unitState(s)
	if sk.Control != 1 || sk.SetpointType != 0 || sk.Current != 12 || sk.Action != actionStart || sk.Applied != 12 {
		t.Fatalf("after SetCurrent: %+v", sk)
	}
	if sk.PowerSetpoint != 0 {
		t.Fatalf("the power setpoint was written: %+v", sk)
	}
	waitFor(t, "car at 12 A", func() bool { return unitState(s).Car.Currents[0] == 12 })

	// Control is held: the next command writes current and action only.
	writes := s.Counters().Writes
	if err := c.SetCurrent(ctx, 14); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes - writes; n != 2 || unitState(s).Current != 14 {
		t.Fatalf("second command: %d writes, current %d", n, unitState(s).Current)
	}

	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Action != actionStop || sk.Applied != 0 || sk.State != 4 {
		t.Fatalf("disabled: %+v", sk)
	}
	st := poll(t, c)
	if *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: enabled %v status %s limit %v", *st.Enabled, st.Status, *st.CurrentLimit)
	}
	if err := c.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Action != actionStop || sk.Current != 14 {
		t.Fatalf("current applied while disabled: %+v", sk)
	}
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Action != actionStart || sk.Current != 8 || sk.Applied != 8 {
		t.Fatalf("enable restored %+v, want 8 A started", sk)
	}
}

// TestSafety: nothing negative, nothing above the configured maximum,
// nothing non-finite reaches the charger.
func TestSafety(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil) // max_current 16
	ctx := context.Background()
	s.Plug(true)
	for _, bad := range []float64{-10, -0.5, 0, 5.9, 16.1, 17, 32, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	for _, bad := range []float64{-6, -1, 3, 16.5, 33, math.NaN()} {
		if err := c.writeAmps(ctx, bad); err == nil {
			t.Errorf("writeAmps(%v) accepted", bad)
		}
	}
	if n := s.Counters().Writes; n != 0 {
		t.Fatalf("%d refused commands reached the charger", n)
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
	wide := modbustest.Build(t, New, modbustest.Settings(s.Addr(), 80), DefaultOptions(), nil, testPool(t))
	if _, hi, _ := wide.CurrentRange(); hi != maxCurrent {
		t.Errorf("max_current 80 gives %v A, want the Quasar's 32", hi)
	}
	if err := wide.SetCurrent(ctx, 33); err == nil {
		t.Error("33 A accepted")
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{IdleTimeout: 3 * time.Second})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	if err := c.SetCurrent(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Applied != 13 || sk.Control != 1 {
		t.Fatalf("setpoint not in force: %+v", sk)
	}
	// No Modbus traffic at all (Snapshot is in-process): the charger
	// goes idle, back to user control.
	waitFor(t, "the idle fallback", func() bool {
		sk := unitState(s)
		return sk.Lapses == 1 && sk.Control == 0 && sk.Applied == 0
	})
	// The driver has not seen it: its refresh is refused (illegal data
	// value), takes control again and retries.
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Control != 1 || sk.Applied != 13 || sk.Action != actionStart {
		t.Fatalf("after refresh: %+v", sk)
	}
	waitFor(t, "a second fallback", func() bool { return unitState(s).Lapses == 2 })
	st := poll(t, c) // sees user control
	if st.Enabled != nil || st.CurrentLimit != nil || st.Status != charger.StatusPaused {
		t.Fatalf("after the fallback: enabled %v limit %v status %s", st.Enabled, st.CurrentLimit, st.Status)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Control != 1 || sk.Applied != 13 {
		t.Fatalf("after the second refresh: %+v", sk)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	s := startSim(t, SimConfig{IdleTimeout: timeout})
	c := newDriver(t, s, testPool(t), nil)
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != timeout/4 {
		t.Fatalf("refresh interval = %v, want a quarter of %v", iv, timeout)
	}
	s.Plug(true)
	if err := c.SetCurrent(ctx, 11); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(2*timeout + timeout/2)
	for time.Now().Before(end) { // refreshes only, no polls
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if sk := unitState(s); sk.Lapses != 0 || sk.Control != 1 || sk.Applied != 11 {
		t.Fatalf("refreshed setpoint lapsed: %+v", sk)
	}
}

func TestRefreshSetsIdleTimeout(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), func(o *Options) { o.IdleTimeout = 45 })
	if iv := c.RefreshInterval(); iv != 11250*time.Millisecond {
		t.Fatalf("interval = %v", iv)
	}
	ctx := context.Background()
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.IdleTimeout != 45 {
		t.Fatalf("idle timeout = %d", sk.IdleTimeout)
	}
	writes := s.Counters().Writes
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes - writes; n != 2 {
		t.Fatalf("a refresh with nothing to put back wrote %d registers, want current and action", n)
	}
}

// TestRefreshBeforeCommand: a restarted evbridge adopts what a remotely
// controlled charger does and leaves a user-controlled one alone.
func TestRefreshBeforeCommand(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.Plug(true)
	ctx := context.Background()
	pool := testPool(t) // one connection: the simulator takes two masters
	user := newDriver(t, s, pool, nil)
	if err := user.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes; n != 0 || unitState(s).Control != 0 {
		t.Fatalf("refresh took a user-controlled charger: %d writes", n)
	}

	cl := plainClient(t, s, pool)
	for _, w := range [][2]uint16{{regControl, 1}, {regSetpointTyp, 0}, {regCurrent, 14}, {regAction, 1}} {
		if err := cl.WriteSingle(ctx, w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	c := newDriver(t, s, pool, nil)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if a, on, known := c.sp.State(); !known || !on || a != 14 {
		t.Fatalf("adopted %v %v %v", a, on, known)
	}
	if sk := unitState(s); sk.Current != 14 || sk.Action != actionStart || sk.Applied != 14 {
		t.Fatalf("adoption changed the charger: %+v", sk)
	}
	// Above the configured maximum, the adopted current is capped.
	if err := cl.WriteSingle(ctx, regCurrent, 30); err != nil {
		t.Fatal(err)
	}
	capped := newDriver(t, s, pool, nil)
	if err := capped.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.Current != 16 {
		t.Fatalf("adopted 30 A on a 16 A charger: %+v", sk)
	}
}
