package phoenix

import (
	"context"
	"errors"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/simonvetter/modbus"
)

// coilMasters is how many connections one pool's drivers open: coils
// share the registers' connection.
func coilMasters(*Charger) int { return 1 }

func TestConnectionDroppedMidRead(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	poll(t, c)
	// Dropped once: the read is retried on a new connection.
	s.Drop(1)
	poll(t, c)
	if m := s.Snapshot().Masters; m != coilMasters(c)+1 {
		t.Fatalf("controller saw %d connections, want %d", m, coilMasters(c)+1)
	}
	// Dropped on the retry too: the poll fails clearly, then recovers.
	s.Drop(2)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "phoenix: read status") {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
	// A coil read dropped mid-way fails alone; the next one reconnects.
	s.Drop(1)
	if err := c.SetEnabled(context.Background(), false); err != nil {
		t.Fatal(err) // writes are not dropped
	}
	if _, err := c.coils.ReadCoils(context.Background(), coilEnable, 1); !errors.Is(err, modbusx.ErrConnection) && err != nil {
		t.Fatalf("dropped coil read: %v", err)
	}
	if v, err := c.coils.ReadCoils(context.Background(), coilEnable, 1); err != nil || v[0] {
		t.Fatalf("coil after reconnect: %v %v", v, err)
	}
}

func TestDeviceBusy(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	s.Busy(1)
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("err = %v, want device busy", err)
	}
	poll(t, c)
	s.Busy(1)
	if err := c.SetCurrent(context.Background(), 10); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("write err = %v, want device busy", err)
	}
	s.Busy(1)
	if err := c.SetEnabled(context.Background(), false); !errors.Is(err, modbusx.ErrDeviceBusy) || !strings.Contains(err.Error(), "write coil 400") {
		t.Fatalf("coil err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil) // 3 s timeout
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
	if err := impatient.SetEnabled(context.Background(), true); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("coil err = %v, want timeout", err)
	}
	s.Delay(0)
	waitFor(t, "recovery", func() bool { _, err := impatient.Poll(context.Background()); return err == nil })
}

// TestTwoControllersOneGateway: two controllers behind one address (a
// gateway or a proxy with unit ids) share one connection and do not mix
// up.
func TestTwoControllersOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}, MaxMasters: 4})
	pool := testPool(t)
	a := newDriver(t, s, pool, func(o *Options) { o.UnitID = 1 })
	b := newDriver(t, s, pool, func(o *Options) { o.UnitID = 2 })
	ctx := context.Background()
	s.PlugUnit(2, true)
	if err := b.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := a.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if snap.Units[1].Enabled || !snap.Units[2].Enabled || snap.Units[1].Setpoint != 16 || snap.Units[2].Setpoint != 9 {
		t.Fatalf("units = %+v", snap.Units)
	}
	waitFor(t, "unit 2 charging", func() bool { return poll(t, b).Status == charger.StatusCharging })
	l, r := poll(t, a), poll(t, b)
	if l.Status != charger.StatusNoVehicle || *l.Enabled || *r.CurrentLimit != 9 {
		t.Fatalf("unit 1 %s enabled %v, unit 2 limit %v", l.Status, *l.Enabled, *r.CurrentLimit)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 {
		t.Fatalf("pool = %+v: the registers of both units share one connection", st)
	}
	if want := 1 + 2*(coilMasters(a)-1); s.Snapshot().Masters != want {
		t.Fatalf("gateway saw %d connections, want %d", s.Snapshot().Masters, want)
	}
	other := newDriver(t, s, pool, func(o *Options) { o.UnitID = 3 })
	if _, err := other.Poll(ctx); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Fatalf("unit 3: %v", err)
	}
}

func TestRequestsPerPoll(t *testing.T) {
	for _, wallbe := range []bool{false, true} {
		s := startSim(t, SimConfig{Wallbe: wallbe})
		c := newDriver(t, s, testPool(t), nil)
		for i := range 5 {
			before := s.Counters().Reads
			poll(t, c)
			if n := s.Counters().Reads - before; n != 3 {
				t.Fatalf("wallbe %v: poll %d took %d requests, want 3", wallbe, i, n)
			}
		}
	}
}

// TestSimulatorRegisterMap checks the simulator against UM with a plain
// Modbus client, without the driver.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{})
	pool := testPool(t)
	cl, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: defaultUnit})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	reads := []struct {
		t       modbusx.Table
		addr, n uint16
		wantErr error
		what    string
	}{
		{modbusx.Input, 100, 49, nil, "input block"},
		{modbusx.Input, 100, 55, modbusx.ErrIllegalAddress, "wallbe firmware string on Phoenix firmware"},
		{modbusx.Input, 99, 2, modbusx.ErrIllegalAddress, "before the input block"},
		{modbusx.Holding, 300, 15, nil, "actual current, serial, name"},
		{modbusx.Holding, 528, 1, nil, "max current"},
		{modbusx.Holding, 904, 2, nil, "energy"},
		{modbusx.Holding, 2980, 4, modbusx.ErrIllegalAddress, "wallbe energy on Phoenix firmware"},
		{modbusx.Holding, 527, 2, modbusx.ErrIllegalAddress, "around 528"},
		{modbusx.Holding, 100, 1, modbusx.ErrIllegalAddress, "input register by FC3"},
	}
	for _, r := range reads {
		_, err := cl.Read(ctx, r.t, r.addr, r.n)
		if r.wantErr == nil && err != nil || r.wantErr != nil && !errors.Is(err, r.wantErr) {
			t.Errorf("%s: err = %v, want %v", r.what, err, r.wantErr)
		}
	}
	in, err := cl.Read(ctx, modbusx.Input, regStatus, 8)
	if err != nil || in[0] != 'A' || in[4] != 0x0200 || modbusx.DecodeString(in[5:7], modbusx.LowByteFirst) != "1.27" {
		t.Errorf("status, DIP, firmware: %x (%v)", in, err)
	}
	writes := []struct {
		addr    uint16
		v       uint16
		wantErr error
		what    string
	}{
		{regMaxCurrent, 32, nil, "32 A"},
		{regMaxCurrent, 5, modbusx.ErrIllegalValue, "5 A"},
		{regMaxCurrent, 33, modbusx.ErrIllegalValue, "above the configured maximum"},
		{regSerial, 1, modbusx.ErrIllegalAddress, "read-only register"},
	}
	for _, w := range writes {
		if err := cl.WriteSingle(ctx, w.addr, w.v); w.wantErr == nil && err != nil || w.wantErr != nil && !errors.Is(err, w.wantErr) {
			t.Errorf("write %s: err = %v, want %v", w.what, err, w.wantErr)
		}
	}
	coils, closeCoils := newCoils(cl)
	defer closeCoils()
	if v, err := coils.ReadCoils(ctx, coilEnable, coilEnd-coilEnable); err != nil || !v[0] || v[coilRFID-coilEnable] || !v[coilAllowed-coilEnable] {
		t.Errorf("coils: %v (%v)", v, err)
	}
	if err := coils.WriteCoil(ctx, coilAllowed, true); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("read-only coil: %v", err)
	}
	if _, err := coils.ReadCoils(ctx, 0, 1); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("unmapped coil: %v", err)
	}
	if err := coils.WriteCoil(ctx, coilEnable, false); err != nil || unitState(s).Enabled || unitState(s).Setpoint != 32 {
		t.Errorf("enable coil: %v, %+v", err, unitState(s))
	}
	// Discrete inputs are not in the map.
	mc, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + s.Addr(), Timeout: time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Open(); err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	mc.SetUnitId(defaultUnit)
	if _, err := mc.ReadDiscreteInputs(0, 1); !errors.Is(err, modbus.ErrIllegalFunction) {
		t.Errorf("FC2: %v", err)
	}
}

func TestSimulatorWallbeMap(t *testing.T) {
	s := startSim(t, SimConfig{Wallbe: true, WallbeFirmware: "WB-9"})
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Unit: defaultUnit})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if r, err := cl.Read(ctx, modbusx.Holding, regMaxCurrent, 1); err != nil || r[0] != 160 {
		t.Errorf("528 = %v (%v), want 160 (16.0 A)", r, err)
	}
	if r, err := cl.Read(ctx, modbusx.Input, regWallbeFW, 6); err != nil || modbusx.DecodeString(r, modbusx.LowByteFirst) != "WB-9" {
		t.Errorf("wallbe firmware %v (%v)", r, err)
	}
	if r, err := cl.Read(ctx, modbusx.Holding, regEnergyWallbe, 4); err != nil || modbusx.EncodeUint64(1234567, modbusx.LowWordFirst)[0] != r[0] {
		t.Errorf("wallbe energy %v (%v)", r, err)
	}
	for _, v := range []uint16{59, 321} {
		if err := cl.WriteSingle(ctx, regMaxCurrent, v); !errors.Is(err, modbusx.ErrIllegalValue) {
			t.Errorf("528 = %d: %v", v, err)
		}
	}
}
