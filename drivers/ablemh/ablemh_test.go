package ablemh

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
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

func build(t testing.TB, s charger.Settings, pool *modbusx.Pool, edit func(*Options)) *Charger {
	t.Helper()
	return modbustest.Build(t, New, s, DefaultOptions(), edit, pool)
}

// newDriver connects a driver allowed 32 A, 3 s timeout.
func newDriver(t testing.TB, addr string, pool *modbusx.Pool, edit func(*Options)) *Charger {
	t.Helper()
	return build(t, modbustest.Settings(addr, 32), pool, edit)
}

var fixture = modbustest.Fixture[*Simulator, *Charger]{
	Start:  func(t testing.TB) *Simulator { return startSim(t, SimConfig{}) },
	Driver: func(t testing.TB, s *Simulator) *Charger { return newDriver(t, s.Addr(), testPool(t), nil) },
	Dial:   dial,
}

func TestPollEveryField(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()

	st := poll(t, c) // report + identity flags
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || st.Brand != "ABL" || st.Firmware != "1.2" {
		t.Fatalf("unplugged: %+v", st)
	}
	if !*st.Enabled || *st.CurrentLimit != 15.96 || !slices.Equal(st.Currents, []float64{0, 0, 0}) || *st.Power != 0 || st.Phases != nil {
		t.Fatalf("idle: %+v", st)
	}
	if st.Voltages != nil || st.EnergyTotal != nil || st.SessionEnergy != nil {
		t.Fatalf("values the controller does not have: %+v", st)
	}
	if st = poll(t, c); st.Serial != "2W22SIM0000001" {
		t.Fatalf("serial %q", st.Serial)
	}
	s.Plug(true)
	if err := c.SetCurrent(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if ic := s.Snapshot().Boxes[1].Icmax; ic != 0x00A6 {
		t.Fatalf("Icmax = %#04x, want ABL's 0x00A6 for 10 A", ic)
	}
	st = pollUntil(t, c, "charging at 9.96 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && slices.Equal(st.Currents, []float64{10, 10, 10})
	})
	// 230 V × 30 A: an estimate, the controller measures no power.
	if st.IEC != charger.IECC || *st.CurrentLimit != 9.96 || *st.Phases != 3 || *st.Power != 6900 || st.ErrorCode != "" {
		t.Fatalf("charging: %+v", st)
	}
	s.SetState(1, 0xF2)
	st = poll(t, c)
	if st.IEC != charger.IECF || st.Status != charger.StatusError || st.ErrorCode != "F2" || st.ErrorText != "internal error" {
		t.Fatalf("fault: %+v", st)
	}
	s.SetState(1, 0xE2)
	if st = poll(t, c); st.Status != charger.StatusUnavailable || st.ErrorCode != "E2" || st.ErrorText != "setup mode" {
		t.Fatalf("setup mode: %+v", st)
	}
}

func TestNoMeter(t *testing.T) {
	s := startSim(t, SimConfig{NoMeter: true})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	s.Plug(true)
	pollUntil(t, c, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if st := poll(t, c); st.Currents != nil || st.Power != nil || st.Phases != nil {
		t.Fatalf("without a meter: %+v", st)
	}
}

func TestCommands(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	box := func() BoxSnapshot { return s.Snapshot().Boxes[1] }
	if err := c.SetCurrent(ctx, 12.5); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Icmax != 208 || b.Applied != 12.48 {
		t.Fatalf("12.5 A: %+v", b)
	}
	waitFor(t, "car at 12.48 A", func() bool { return box().Car.Currents[0] == 12.48 })
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if b := box(); b.Icmax != noCurrent || b.Applied != 0 || b.State != 0xB1 {
		t.Fatalf("disabled: %+v", b)
	}
	if st := poll(t, c); *st.Enabled || st.Status != charger.StatusPaused || *st.CurrentLimit != 0 {
		t.Fatalf("disabled state: %+v", st)
	}
	if err := c.SetCurrent(ctx, 8); err != nil || box().Icmax != noCurrent {
		t.Fatalf("current while disabled: %v, %+v", err, box())
	}
	if err := c.SetEnabled(ctx, true); err != nil || box().Icmax != units(8) {
		t.Fatalf("enable: %v, %+v", err, box())
	}
	writes := s.Counters().Writes
	for _, bad := range []float64{5.9, 32.1, -1, math.NaN(), math.Inf(1)} {
		if err := c.SetCurrent(ctx, bad); err == nil {
			t.Errorf("SetCurrent(%v) accepted", bad)
		}
	}
	if s.Counters().Writes != writes {
		t.Error("a refused command reached the box")
	}
	if lo, hi, step := c.CurrentRange(); lo != 6 || hi != 32 || step != 0.06 {
		t.Errorf("range = %v %v %v", lo, hi, step)
	}
}

// TestMaxCurrentCaps: never above the configured maximum.
func TestMaxCurrentCaps(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := build(t, modbustest.Settings(s.Addr(), 16), testPool(t), nil)
	if _, hi, _ := c.CurrentRange(); hi != 16 {
		t.Fatalf("max %v", hi)
	}
	if err := c.SetCurrent(context.Background(), 16.5); err == nil {
		t.Fatal("16.5 A accepted with max_current 16")
	}
	if err := c.SetCurrent(context.Background(), 16); err != nil || s.Snapshot().Boxes[1].Applied > 16 {
		t.Fatalf("16 A: %v, %+v", err, s.Snapshot().Boxes[1])
	}
}

// TestEnableFromE0: an outlet disabled (E0) is taken back to A1 before
// the current is written.
func TestEnableFromE0(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	ctx := context.Background()
	s.Plug(true)
	s.SetState(1, 0xE0)
	st := poll(t, c)
	if st.Status != charger.StatusPaused || st.IEC != charger.IECB || *st.Enabled || st.ErrorCode != "E0" || st.ErrorText != "outlet disabled" {
		t.Fatalf("E0: %+v", st)
	}
	writes := s.Counters().Writes
	if err := c.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters().Writes - writes; n != 2 {
		t.Fatalf("%d writes, want 0xA1A1 then Icmax", n)
	}
	pollUntil(t, c, "charging after E0", func(st charger.State) bool { return st.Status == charger.StatusCharging && *st.Enabled })
	writes = s.Counters().Writes
	if err := c.SetCurrent(ctx, 7); err != nil || s.Counters().Writes-writes != 1 {
		t.Fatalf("a current outside E0 wrote %d times: %v", s.Counters().Writes-writes, err)
	}
}

// TestTwoControllersOneGateway: ids 1 and 2 behind one gateway share
// one connection and do not mix up; id 3, which nothing answers on a
// transparent gateway, times out. (modbusx tests the shared ASCII
// connection itself, under concurrent use.)
func TestTwoControllersOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{IDs: []uint8{1, 2}})
	pool := testPool(t)
	a := newDriver(t, s.Addr(), pool, nil)
	b := newDriver(t, s.Addr(), pool, func(o *Options) { o.DeviceID = 2 })
	ctx := context.Background()
	s.PlugUnit(2, true)
	if err := a.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second poll reads the serial
		if l, r := poll(t, a), poll(t, b); *l.Enabled || !*r.Enabled || l.Status != charger.StatusNoVehicle || r.Status == charger.StatusNoVehicle {
			t.Fatalf("id 1 %+v, id 2 %+v", l, r)
		}
	}
	if l, r := poll(t, a), poll(t, b); l.Serial != "2W22SIM0000001" || r.Serial != "2W22SIM0000002" {
		t.Fatalf("serials %q %q", l.Serial, r.Serial)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 || s.Snapshot().Masters != 1 {
		t.Fatalf("pool = %+v, gateway saw %d: both ids must share one connection", st, s.Snapshot().Masters)
	}
	other := build(t, charger.Settings{Address: s.Addr(), Timeout: 300 * time.Millisecond}, pool, func(o *Options) { o.DeviceID = 3 })
	if _, err := other.Poll(ctx); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("id 3: %v", err)
	}
	waitFor(t, "ids 1 and 2 after id 3 timed out", func() bool {
		_, e1 := a.Poll(ctx)
		_, e2 := b.Poll(ctx)
		return e1 == nil && e2 == nil
	})
}

func TestWatchdogExpiresWithoutRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{UpstreamTimeout: 600 * time.Millisecond})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.UpstreamTimeout = time.Second })
	s.Plug(true)
	if err := c.SetCurrent(context.Background(), 13); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "F4", func() bool { b := s.Snapshot().Boxes[1]; return b.TimedOut && b.Applied == 0 })
	st := poll(t, c)
	if st.ErrorCode != "F4" || st.Status != charger.StatusError || st.ErrorText != "upstream communication timeout" {
		t.Fatalf("after the timeout: %+v", st)
	}
	if b := s.Snapshot().Boxes[1]; !b.TimedOut {
		t.Fatal("a read ended the F4")
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := s.Snapshot().Boxes[1]; b.TimedOut || b.Applied != 12.96 {
		t.Fatalf("after refresh: %+v", b)
	}
}

func TestWatchdogHeldByRefresh(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{UpstreamTimeout: 2 * time.Second})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.UpstreamTimeout = time.Second })
	ctx := context.Background()
	if iv := c.RefreshInterval(); iv != time.Second/3 {
		t.Fatalf("refresh interval = %v", iv)
	}
	if err := c.Refresh(ctx); err != nil { // adopts the box's 15.96 A
		t.Fatal(err)
	}
	if writes := s.Counters().Writes; writes != 0 {
		t.Fatalf("adopting wrote %d times", writes)
	}
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		time.Sleep(c.RefreshInterval())
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b := s.Snapshot().Boxes[1]; b.Fallbacks != 0 || b.Applied != 15.96 {
		t.Fatalf("refreshed box timed out: %+v", b)
	}
	if s.Counters().Writes != 0 {
		t.Fatal("a refresh of a box in step wrote")
	}
}

func TestOptions(t *testing.T) {
	for i, edit := range []func(*Options){
		func(o *Options) { o.DeviceID = 0 },
		func(o *Options) { o.DeviceID = 17 },
		func(o *Options) { o.UpstreamTimeout = -time.Second },
		func(o *Options) { o.UpstreamTimeout = 500 * time.Millisecond },
		func(o *Options) { o.UpstreamTimeout = 2 * time.Hour },
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

// The options go through the daemon's own config loader.
func TestOptionsThroughConfigLoader(t *testing.T) {
	doc := `chargers:
  - name: garage
    driver: abl_emh
    address: 127.0.0.1:8899
    options:
      device_id: 2
      upstream_timeout: 30s
`
	cfg, err := config.Parse([]byte(doc), "abl.yaml", charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Chargers[0].Options.(*Options); o.DeviceID != 2 || o.UpstreamTimeout != 30*time.Second {
		t.Fatalf("decoded %+v", o)
	}
	if cfg.Chargers[0].PollInterval != 2*time.Second {
		t.Fatalf("poll interval %v", cfg.Chargers[0].PollInterval)
	}
	for bad, want := range map[string]string{
		strings.Replace(doc, "device_id: 2", "device_id: 17", 1):                   "device_id 17",
		strings.Replace(doc, "device_id: 2", "unit_id: 2", 1):                      "unit_id",
		strings.Replace(doc, "upstream_timeout: 30s", "upstream_timeout: 10ms", 1): "upstream_timeout",
	} {
		if _, err := config.Parse([]byte(bad), "abl.yaml", charger.Default); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", want, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "abl_emh", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.Watchdogged); ok {
		t.Error("watchdog offered though no upstream_timeout is set")
	}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered")
	}
	if _, ok := ch.(charger.CurrentSetter); !ok {
		t.Error("current setting missing")
	}
	o.UpstreamTimeout = 30 * time.Second
	if w, ok := modbustest.Instance(t, d, o).(charger.Watchdogged); !ok || w.RefreshInterval() != 10*time.Second {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{DeviceID: 20})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "abl_emh", dial)
}
