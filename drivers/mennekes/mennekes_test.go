package mennekes

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
	return modbustest.Build(t, New, modbustest.Settings(addr, 16), o, edit, pool)
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func families() []string { return []string{"hcc3", "bender"} }

func TestPollEveryField(t *testing.T) {
	for _, fam := range families() {
		t.Run(fam, func(t *testing.T) {
			s := startSim(t, SimConfig{Family: fam})
			c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Family = fam })
			ctx := context.Background()
			st := pollUntil(t, c, "limit read", func(st charger.State) bool { return st.Enabled != nil && st.CurrentLimit != nil })
			if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || st.Brand != "Mennekes" || !*st.Enabled {
				t.Fatalf("unplugged: %+v", st)
			}
			if fam == "hcc3" && (st.Model != "AMTRON Xtra" || st.Serial != "12345678" || *st.Phases != 3 || *st.CurrentLimit != 16) {
				t.Fatalf("hcc3 identity: %+v", st)
			}
			if fam == "bender" && (st.Model != "AMTRON Pro" || st.Firmware != "5.22" || !near(*st.EnergyTotal, 4321) ||
				!slices.Equal(st.Voltages, []float64{230, 230, 230})) {
				t.Fatalf("bender idle: %+v", st)
			}
			s.Plug(true)
			if err := c.SetCurrent(ctx, 10.7); err != nil { // whole amps: 10
				t.Fatal(err)
			}
			st = pollUntil(t, c, "charging at 10 A", func(st charger.State) bool {
				return st.Status == charger.StatusCharging && st.Power != nil && *st.Power == 6900 && *st.CurrentLimit == 10
			})
			if st.IEC != charger.IECC || !*st.Enabled {
				t.Fatalf("charging: %+v", st)
			}
			if fam == "bender" && (!slices.Equal(st.Currents, []float64{10, 10, 10}) || *st.Phases != 3) {
				t.Fatalf("bender meter: %+v", st)
			}
			pollUntil(t, c, "session energy", func(st charger.State) bool { return st.SessionEnergy != nil && *st.SessionEnergy > 0 })
			s.SetFault(true)
			st = poll(t, c)
			if fam == "hcc3" && (st.Status != charger.StatusError || st.ErrorCode != "11") {
				t.Fatalf("hcc3 fault: %+v", st)
			}
			if fam == "bender" && (st.IEC != charger.IECE || st.Status != charger.StatusError) {
				t.Fatalf("bender fault: %+v", st)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	for _, fam := range families() {
		t.Run(fam, func(t *testing.T) {
			s := startSim(t, SimConfig{Family: fam})
			c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Family = fam })
			ctx := context.Background()
			s.Plug(true)
			if err := c.SetCurrent(ctx, 12); err != nil || s.Snapshot().Limit != 12 {
				t.Fatalf("set current: %v %+v", err, s.Snapshot())
			}
			waitFor(t, "car at 12 A", func() bool { return s.Snapshot().Car.Currents[0] == 12 })
			if err := c.SetEnabled(ctx, false); err != nil {
				t.Fatal(err)
			}
			if sn := s.Snapshot(); sn.Limit != 0 || sn.Car.Charging {
				t.Fatalf("disabled: %+v", sn)
			}
			st := pollUntil(t, c, "disabled", func(st charger.State) bool { return st.Enabled != nil && !*st.Enabled })
			if st.Status != charger.StatusPaused {
				t.Fatalf("disabled state: %+v", st)
			}
			if err := c.SetCurrent(ctx, 8); err != nil || s.Snapshot().Limit != 0 {
				t.Fatalf("current while disabled: %v", err)
			}
			if err := c.SetEnabled(ctx, true); err != nil || s.Snapshot().Limit != 8 {
				t.Fatalf("enable: %v %+v", err, s.Snapshot())
			}
			writes := s.Counters().Writes
			for _, bad := range []float64{5.9, 16.1, math.NaN()} {
				if err := c.SetCurrent(ctx, bad); err == nil {
					t.Errorf("SetCurrent(%v) accepted", bad)
				}
			}
			if s.Counters().Writes != writes {
				t.Error("a refused command reached the box")
			}
			if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
				t.Errorf("range = %v %v %v", lo, hi, step)
			}
		})
	}
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{WatchdogTimeout: 600 * time.Millisecond, SafeCurrent: 7})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.WatchdogTimeout = 1 })
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fallback", func() bool { sn := s.Snapshot(); return sn.Tripped && sn.Applied == 7 })
	if st := poll(t, c); st.ErrorCode != "16" {
		t.Fatalf("after the timeout: %+v", st)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Tripped || sn.Applied != 13 {
		t.Fatalf("after refresh: %+v", sn)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Family: "bender", WatchdogTimeout: 900 * time.Millisecond})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Family, o.WatchdogTimeout = "bender", 1 })
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil { // adopts the box's 16 A
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if sn := s.Snapshot(); sn.Fallbacks != 0 || sn.Applied != 16 {
		t.Fatalf("refreshed box fell back: %+v", sn)
	}
}

func TestOptions(t *testing.T) {
	for i, edit := range []func(*Options){
		func(o *Options) { o.Family = "compact" },
		func(o *Options) { o.UnitID = 0 },
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
