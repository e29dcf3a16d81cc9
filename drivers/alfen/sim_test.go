package alfen

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	poll(t, c)
	// Dropped once: the read is retried on a new connection.
	s.Drop(1)
	poll(t, c)
	if m := s.Snapshot().Masters; m != 2 {
		t.Fatalf("station saw %d connections, want 2", m)
	}
	// Dropped on the retry too: the poll fails clearly, then recovers.
	s.Drop(2)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "alfen: read socket 1") {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
}

func TestDeviceBusy(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	s.Busy(1)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("err = %v, want device busy", err)
	}
	poll(t, c)
	s.Busy(1)
	if err := c.SetCurrent(context.Background(), 10); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("write err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) {
	s := startSim(t, SimConfig{})
	pool := testPool(t)
	c := newDriver(t, s, pool, nil) // 3 s timeout
	s.Delay(100 * time.Millisecond)
	poll(t, c) // slow but within the timeout
	impatient, err := New(charger.Settings{Address: s.Addr(), Timeout: 50 * time.Millisecond}, DefaultOptions(), nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	s.Delay(time.Second)
	if _, err := impatient.Poll(context.Background()); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	s.Delay(0)
	waitFor(t, "recovery", func() bool { _, err := impatient.Poll(context.Background()); return err == nil })
}

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
	c := newDriver(t, s, testPool(t), nil)
	for i := range 3 {
		before := s.Counters().Reads
		poll(t, c)
		if n := s.Counters().Reads - before; n != 3 {
			t.Fatalf("poll %d took %d requests, want 3", i, n)
		}
	}
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
	d, ok := charger.Default.Lookup("alfen")
	if !ok {
		t.Fatal("alfen not registered")
	}
	o, ok := d.NewOptions().(*Options)
	if !ok || *o != DefaultOptions() || d.DefaultPort != 502 {
		t.Fatalf("options %+v, port %d", o, d.DefaultPort)
	}
	ch, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.(charger.Closer).Close()
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered though the option is off")
	}
	o.PhaseSwitching = true
	ch2, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch2.(charger.Closer).Close()
	if _, ok := ch2.(charger.PhaseSwitcher); !ok {
		t.Error("phase switching missing")
	}
	if _, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, &Options{Socket: 9}, nil); err == nil {
		t.Error("bad options accepted")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "alfen" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("alfen simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	addr := <-bound
	c, err := New(charger.Settings{Address: addr, Timeout: 3 * time.Second}, DefaultOptions(), nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := poll(t, c); st.Status == charger.StatusNoVehicle || st.Status == charger.StatusUnknown {
		t.Errorf("standalone simulator has no car: %s", st.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
