package sunspec

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	s := NewSimulator(cfg)
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testPool(t testing.TB) *modbusx.Pool {
	p := modbusx.NewPool(modbusx.PoolConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	return p
}

func newMeter(t testing.TB, s *Simulator, edit func(*Options)) *Meter {
	t.Helper()
	o := DefaultOptions()
	if edit != nil {
		edit(&o)
	}
	m, err := New(meter.Settings{Name: "test", Address: s.Addr(), Timeout: 3 * time.Second}, o, nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func read(t testing.TB, m *Meter) meter.Reading {
	t.Helper()
	r, err := m.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func ptr[T any](v T) *T { return &v }

func TestReadThreePhaseMeter(t *testing.T) {
	s := startSim(t, SimConfig{ImportWh: 1_234_567, ExportWh: 500_000, Manufacturer: "Acme", Serial: "XY-42"})
	s.SetGrid(-2345.6)
	m := newMeter(t, s, nil)
	r := read(t, m)
	if r.Power == nil || !near(*r.Power, -2345.6, 0.01) {
		t.Fatalf("power = %v, want -2345.6", r.Power)
	}
	if len(r.Currents) != 3 || len(r.Voltages) != 3 {
		t.Fatalf("currents %v voltages %v: want 3 phases each", r.Currents, r.Voltages)
	}
	for i, v := range []float64{230, 230.5, 231} {
		if !near(r.Voltages[i], v, 0.01) {
			t.Errorf("voltage L%d = %v, want %v", i+1, r.Voltages[i], v)
		}
		if want := -2345.6 / 3 / v; !near(r.Currents[i], want, 0.01) {
			t.Errorf("current L%d = %v, want %v (signed like power)", i+1, r.Currents[i], want)
		}
	}
	// Exporting: the import counter must not move.
	if r.EnergyImport == nil || *r.EnergyImport != 1234.567 {
		t.Errorf("energy import = %v, want 1234.567 kWh", r.EnergyImport)
	}
	if r.EnergyExport == nil || *r.EnergyExport < 500 {
		t.Errorf("energy export = %v, want >= 500 kWh", r.EnergyExport)
	}
	if r.SoC != nil || !r.Measured.IsZero() {
		t.Errorf("soc %v measured %v: sunspec has neither", r.SoC, r.Measured)
	}
	if id := m.dev.ident; id.Manufacturer != "Acme" || id.Serial != "XY-42" {
		t.Errorf("identity = %+v", id)
	}
}

func TestDynamicScaleFactor(t *testing.T) {
	s := startSim(t, SimConfig{})
	m := newMeter(t, s, nil)
	for _, w := range []float64{12.3, 3276.7, 12345.6, -98765, 0} {
		s.SetGrid(w)
		r := read(t, m)
		// The simulator picks the finest W_SF that fits int16, so the
		// error is at most half a step.
		tol := 0.05
		if math.Abs(w) > 32767 {
			tol = 50
		} else if math.Abs(w) > 3276.7 {
			tol = 5
		}
		if r.Power == nil || !near(*r.Power, w, tol) {
			t.Errorf("grid %v W read as %v", w, r.Power)
		}
	}
}

func TestBaseDiscovery(t *testing.T) {
	for _, base := range []uint16{0, 40000, 50000} {
		s := startSim(t, SimConfig{Base: ptr(base)})
		s.SetGrid(1000)
		m := newMeter(t, s, nil)
		if r := read(t, m); r.Power == nil || *r.Power != 1000 {
			t.Errorf("base %d: power %v", base, r.Power)
		}
		if m.dev.base != base {
			t.Errorf("found base %d, want %d", m.dev.base, base)
		}
	}
	s := startSim(t, SimConfig{Base: ptr(uint16(50000))})
	m := newMeter(t, s, func(o *Options) { o.BaseAddress = ptr(40000) })
	_, err := m.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SunS") {
		t.Fatalf("wrong base configured: err = %v", err)
	}
}

func TestModelSelection(t *testing.T) {
	s := startSim(t, SimConfig{Models: []uint16{160, 103, 203, 201}})
	s.SetGrid(-800)
	s.SetPV(4321)
	cases := []struct {
		model, instance int
		wantID          uint16
		wantPower       float64
		wantPhases      int
	}{
		{0, 1, 203, -800, 3},
		{0, 2, 201, -800, 1},
		{0, 3, 103, 4321, 3},
		{103, 1, 103, 4321, 3},
		{201, 1, 201, -800, 1},
	}
	for _, c := range cases {
		m := newMeter(t, s, func(o *Options) { o.Model, o.Instance = c.model, c.instance })
		r := read(t, m)
		if m.dev.sel.ID != c.wantID || r.Power == nil || *r.Power != c.wantPower ||
			len(r.Currents) != c.wantPhases || len(r.Voltages) != c.wantPhases {
			t.Errorf("model %d instance %d: read model %d, %+v", c.model, c.instance, m.dev.sel.ID, r)
		}
	}
	for _, c := range []struct{ model, instance int }{{202, 1}, {203, 2}} {
		m := newMeter(t, s, func(o *Options) { o.Model, o.Instance = c.model, c.instance })
		_, err := m.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "found 1, 160, 103, 203, 201") {
			t.Errorf("model %d instance %d: err = %v, want the chain listed", c.model, c.instance, err)
		}
	}
}

func TestInverter(t *testing.T) {
	s := startSim(t, SimConfig{Models: []uint16{101}, ProducedWh: 9_876_000})
	s.SetPV(2500)
	r := read(t, newMeter(t, s, nil))
	if r.Power == nil || *r.Power != 2500 {
		t.Fatalf("power = %v, want 2500", r.Power)
	}
	if len(r.Currents) != 1 || !near(r.Currents[0], 2500/230.0, 0.01) {
		t.Errorf("currents = %v", r.Currents)
	}
	if r.EnergyImport == nil || *r.EnergyImport < 9876 || r.EnergyExport != nil {
		t.Errorf("energy produced = %v (export %v), want >= 9876 kWh in EnergyImport", r.EnergyImport, r.EnergyExport)
	}
}

func TestNotImplementedIsAbsent(t *testing.T) {
	cases := []struct {
		points []string
		check  func(meter.Reading) bool
	}{
		{[]string{"W"}, func(r meter.Reading) bool { return r.Power == nil && len(r.Currents) == 3 }},
		{[]string{"W_SF"}, func(r meter.Reading) bool { return r.Power == nil }},
		{[]string{"TotWhImp"}, func(r meter.Reading) bool { return r.EnergyImport == nil && r.EnergyExport != nil }},
		{[]string{"TotWh_SF"}, func(r meter.Reading) bool { return r.EnergyImport == nil && r.EnergyExport == nil }},
		{[]string{"AphB"}, func(r meter.Reading) bool { return len(r.Currents) == 1 && r.Power != nil }},
		{[]string{"PhVphA"}, func(r meter.Reading) bool { return len(r.Voltages) == 0 }},
		{[]string{"A_SF", "V_SF"}, func(r meter.Reading) bool { return r.Currents == nil && r.Voltages == nil }},
	}
	for _, c := range cases {
		s := startSim(t, SimConfig{NotImplemented: c.points, ImportWh: 10, ExportWh: 10})
		if r := read(t, newMeter(t, s, nil)); !c.check(r) {
			t.Errorf("not implemented %v: reading %+v", c.points, r)
		}
	}
	// An acc32 of 0 is "not implemented", as SunSpec defines it.
	s := startSim(t, SimConfig{})
	s.SetGrid(-10)
	if r := read(t, newMeter(t, s, nil)); r.EnergyImport != nil {
		t.Errorf("import counter 0 read as %v, want absent", *r.EnergyImport)
	}
}

func TestGarbageValues(t *testing.T) {
	s := startSim(t, SimConfig{})
	m := newMeter(t, s, nil)
	cases := []struct {
		set  map[string]uint32
		want string
	}{
		{map[string]uint32{"W": 0x7fff, "W_SF": 5}, "power 3.2767e+09 W is implausible"},
		{map[string]uint32{"W_SF": 11}, "W_SF = 11"},
		{map[string]uint32{"V_SF": 0xfff0}, "V_SF = -16"},
		{map[string]uint32{"PhVphB": 0xff00, "V_SF": 0}, "voltage L2 -256 V is implausible"},
		{map[string]uint32{"AphC": 0x7000, "A_SF": 2}, "current L3"},
	}
	for _, c := range cases {
		for p, v := range c.set {
			s.Set(p, v)
		}
		_, err := m.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("set %v: err = %v, want %q", c.set, err, c.want)
		}
		for p := range c.set {
			s.Clear(p)
		}
	}
	read(t, m) // healthy again
}

func TestDeviceFaults(t *testing.T) {
	s := startSim(t, SimConfig{NoEndMarker: true, Models: []uint16{203}})
	m := newMeter(t, s, nil)
	read(t, m) // a chain ending in unmapped registers still works
	s.Busy(1)
	if _, err := m.Read(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Errorf("busy device: err = %v", err)
	}
	read(t, m)

	// Registers outside the chain are an exception.
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Unit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Read(context.Background(), modbusx.Holding, 39990, 4); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("read below the base: err = %v", err)
	}
	if _, err := cl.Read(context.Background(), modbusx.Input, 40000, 2); !errors.Is(err, modbusx.ErrIllegalFunction) {
		t.Errorf("read input registers: err = %v", err)
	}

	// The wrong unit id finds no marker, and says so.
	wrong := newMeter(t, s, func(o *Options) { o.UnitID = 7 })
	if _, err := wrong.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "unit id") {
		t.Errorf("wrong unit: err = %v", err)
	}

	// Unreachable: discovery fails at once, not after three bases.
	s.Close()
	if _, err := m.Read(context.Background()); err == nil {
		t.Error("read from a stopped simulator succeeded")
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{UnitID: 256}, {UnitID: -1}, {BaseAddress: ptr(40001)}, {Model: 111}, {Model: 1}, {Instance: -1},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v validated", o)
		}
	}
	good := []Options{DefaultOptions(), {BaseAddress: ptr(0), Model: 204, Instance: 2}, {Model: 102}}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestRegistered(t *testing.T) {
	d, ok := meter.Default.Lookup("sunspec")
	if !ok || d.DefaultPort != 502 {
		t.Fatalf("driver sunspec: %+v %v", d, ok)
	}
	opts, ok := d.NewOptions().(*Options)
	if !ok || opts.UnitID != 1 {
		t.Fatalf("NewOptions = %#v", d.NewOptions())
	}
	if !slices.ContainsFunc(charger.Simulators(), func(s charger.Simulator) bool { return s.Name == "sunspec" }) {
		t.Fatal("simulator sunspec not registered")
	}

	// `evbridge sim sunspec` serves an inverter and a meter.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runSimulator(ctx, "127.0.0.1:0", func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	m, err := d.New(meter.Settings{Name: "sim", Address: addr, Timeout: 3 * time.Second}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.(meter.Closer).Close()
	r, err := m.Read(ctx)
	if err != nil || r.Power == nil || r.EnergyImport == nil || r.EnergyExport == nil {
		t.Fatalf("read the default simulator: %+v, %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRead(b *testing.B) {
	s := startSim(b, SimConfig{})
	m := newMeter(b, s, nil)
	ctx := context.Background()
	read(b, m)
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
