package alfen

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "alfen: read socket 1")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

func TestTwoSocketsOneConnection(t *testing.T) {
	s := startSim(t, SimConfig{Sockets: 2, Serial: "ACE0000042"})
	pool := testPool(t)
	left := newDriver(t, s, pool, nil)
	right := newDriver(t, s, pool, func(o *Options) { o.Socket = 2 })
	ctx := context.Background()
	s.PlugSocket(2, true)
	if err := right.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := left.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if snap.Sockets[0].Setpoint != 0 || snap.Sockets[1].Setpoint != 9 {
		t.Fatalf("setpoints = %v / %v", snap.Sockets[0].Setpoint, snap.Sockets[1].Setpoint)
	}
	waitFor(t, "right socket charging", func() bool { return poll(t, right).Status == charger.StatusCharging })
	l, r := poll(t, left), poll(t, right)
	if l.Status != charger.StatusNoVehicle || *l.Enabled || *r.CurrentLimit != 9 {
		t.Fatalf("left %s enabled %v, right limit %v", l.Status, *l.Enabled, *r.CurrentLimit)
	}
	if l.Serial != "ACE0000042" || r.Serial != "ACE0000042-2" {
		t.Fatalf("serials %q / %q", l.Serial, r.Serial)
	}
	if m := s.Snapshot().Masters; m != 1 {
		t.Fatalf("station saw %d connections, want 1", m)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 {
		t.Fatalf("pool = %+v", st)
	}
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	modbustest.ReadsPerPoll(t, s, newDriver(t, s, testPool(t), nil), 3, 3)
}

// TestSimulatorRegisterMap checks the simulator against ALF §1–§3 with a
// plain Modbus client, without the driver.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{})
	pool := testPool(t)
	cl := func(unit uint8) *modbusx.Client {
		c, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: unit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sock, station, other := cl(1), cl(200), cl(2)
	ctx := context.Background()
	f32 := func(v float64) []uint16 { return modbusx.EncodeFloat32(v, modbusx.HighWordFirst) }

	reads := []struct {
		c         *modbusx.Client
		t         modbusx.Table
		addr, n   uint16
		wantErr   error
		whatCheck string
	}{
		{sock, modbusx.Holding, 300, 62, nil, "meter block head"},
		{sock, modbusx.Holding, 362, 64, nil, "meter block tail"},
		{sock, modbusx.Holding, 1200, 16, nil, "status block"},
		{station, modbusx.Holding, 100, 79, nil, "identity"},
		{station, modbusx.Holding, 1100, 6, nil, "station status"},
		{station, modbusx.Holding, 1400, 32, nil, "scn"},
		{sock, modbusx.Holding, 0, 1, modbusx.ErrIllegalAddress, "unmapped"},
		{sock, modbusx.Holding, 299, 2, modbusx.ErrIllegalAddress, "before a block"},
		{sock, modbusx.Holding, 1215, 2, modbusx.ErrIllegalAddress, "past a block"},
		{sock, modbusx.Holding, 300, 125, modbusx.ErrIllegalAddress, "cuts the FLOAT64 at 422"},
		{sock, modbusx.Holding, 307, 2, modbusx.ErrIllegalAddress, "starts inside a FLOAT32"},
		{sock, modbusx.Holding, 100, 10, modbusx.ErrIllegalAddress, "station block on a socket unit"},
		{station, modbusx.Holding, 300, 1, modbusx.ErrIllegalAddress, "socket block on the station"},
		{other, modbusx.Holding, 300, 1, modbusx.ErrIllegalAddress, "no socket 2 on an Eve Single"},
		{sock, modbusx.Input, 300, 1, modbusx.ErrIllegalFunction, "FC4"},
	}
	for _, r := range reads {
		_, err := r.c.Read(ctx, r.t, r.addr, r.n)
		if r.wantErr == nil && err != nil || r.wantErr != nil && !errors.Is(err, r.wantErr) {
			t.Errorf("%s: err = %v, want %v", r.whatCheck, err, r.wantErr)
		}
	}
	b, err := sock.ReadPlan(ctx, mustPlan(t, modbusx.Span{Addr: 300, Count: 62}, modbusx.Span{Addr: 1200, Count: 16}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Float(modbusx.At(regVoltageLL, modbusx.Float32)); !errors.Is(err, modbusx.ErrNaN) {
		t.Errorf("unavailable register: %v, want NaN", err)
	}
	if m, _ := b.String(modbusx.Text(regMode3, 5)); m != "A" {
		t.Errorf("mode 3 = %q", m)
	}
	if f, _ := b.Float(modbusx.At(regFrequency, modbusx.Float32)); f != 50 {
		t.Errorf("frequency = %v", f)
	}

	writes := []struct {
		c       *modbusx.Client
		addr    uint16
		regs    []uint16
		wantErr error
		what    string
	}{
		{sock, regSetpoint, f32(16), nil, "setpoint"},
		{sock, regPhases, []uint16{1}, nil, "phases by FC16"},
		{sock, regSetpoint, f32(32.5), modbusx.ErrIllegalValue, "above the station maximum"},
		{sock, regSetpoint, f32(-1), modbusx.ErrIllegalValue, "negative"},
		{sock, regSetpoint, f32(math.NaN()), modbusx.ErrIllegalValue, "NaN"},
		{sock, regSetpoint, append(f32(10), 3), modbusx.ErrIllegalAddress, "setpoint and more"},
		{sock, regPhases, []uint16{2}, modbusx.ErrIllegalValue, "two phases"},
		{sock, regApplied, f32(10), modbusx.ErrIllegalAddress, "read-only register"},
		{station, regSCNMax, append(f32(20), f32(20)...), nil, "SCN L1 and L2"},
		{station, regSCNMax + 1, f32(20), modbusx.ErrIllegalAddress, "SCN misaligned"},
		{station, regSCNSafe, f32(20), modbusx.ErrIllegalAddress, "SCN read-only"},
	}
	for _, w := range writes {
		if err := w.c.Write(ctx, w.addr, w.regs); w.wantErr == nil && err != nil || w.wantErr != nil && !errors.Is(err, w.wantErr) {
			t.Errorf("write %s: err = %v, want %v", w.what, err, w.wantErr)
		}
	}
	// A FLOAT32 must come whole in one request (ALF §1.3): FC6 is refused.
	if err := sock.WriteSingle(ctx, regSetpoint, 0x4120); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("half a setpoint: %v", err)
	}
	if err := sock.WriteSingle(ctx, regPhases, 3); err != nil {
		t.Errorf("phases by FC6: %v", err)
	}
	if sk := s.Snapshot().Sockets[0]; sk.Setpoint != 16 || sk.Phases != 3 {
		t.Errorf("after writes: %+v", sk)
	}
}

func mustPlan(t *testing.T, spans ...modbusx.Span) *modbusx.Plan {
	p, err := modbusx.NewPlan(modbusx.PlanConfig{}, spans...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "alfen", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered though the option is off")
	}
	o.PhaseSwitching = true
	ch2 := modbustest.Instance(t, d, o)
	if _, ok := ch2.(charger.PhaseSwitcher); !ok {
		t.Error("phase switching missing")
	}
	modbustest.RejectsOptions(t, d, &Options{Socket: 9})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "alfen", dial)
}
