package webastonext

import (
	"context"
	"errors"
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
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "webasto_next: read status") {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
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
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("refresh err = %v, want device busy", err)
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
	s.Delay(0)
	waitFor(t, "recovery", func() bool { _, err := impatient.Poll(context.Background()); return err == nil })
}

// TestTwoStationsOneGateway: two Nexts behind one address (a gateway or a
// proxy with unit ids) share one connection and do not mix up.
func TestTwoStationsOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}})
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
	if snap.Stations[1].Setpoint != 0 || snap.Stations[2].Setpoint != 9 {
		t.Fatalf("setpoints = %v / %v", snap.Stations[1].Setpoint, snap.Stations[2].Setpoint)
	}
	waitFor(t, "station 2 charging", func() bool { return poll(t, b).Status == charger.StatusCharging })
	l, r := poll(t, a), poll(t, b)
	if l.Status != charger.StatusNoVehicle || *l.Enabled || *r.CurrentLimit != 9 {
		t.Fatalf("station 1 %s enabled %v, station 2 limit %v", l.Status, *l.Enabled, *r.CurrentLimit)
	}
	if m := s.Snapshot().Masters; m != 1 {
		t.Fatalf("gateway saw %d connections, want 1", m)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 {
		t.Fatalf("pool = %+v", st)
	}
	other := newDriver(t, s, pool, func(o *Options) { o.UnitID = 3 })
	if _, err := other.Poll(ctx); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Fatalf("unit 3: %v", err)
	}
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	for i := range 5 {
		before := s.Counters().Reads
		poll(t, c)
		if n := s.Counters().Reads - before; n != 3 {
			t.Fatalf("poll %d took %d requests, want 3", i, n)
		}
	}
}

// TestSimulatorRegisterMap checks the simulator against SPEC with a plain
// Modbus client, without the driver.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.Plug(true)
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Unit: defaultUnit})
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
		{modbusx.Holding, 1000, 38, nil, "status and meter"},
		{modbusx.Input, 1008, 5, nil, "currents by FC4"},
		{modbusx.Holding, 1100, 9, nil, "limits"},
		{modbusx.Holding, 1500, 10, nil, "session"},
		{modbusx.Holding, 1600, 21, nil, "user id, smart vehicle"},
		{modbusx.Holding, 2000, 3, nil, "safe current, timeout"},
		{modbusx.Holding, 6000, 1, nil, "life bit"},
		{modbusx.Holding, 0, 1, modbusx.ErrIllegalAddress, "unmapped"},
		{modbusx.Holding, 1037, 2, modbusx.ErrIllegalAddress, "past the status block"},
		{modbusx.Holding, 5004, 1, modbusx.ErrIllegalAddress, "write-only current"},
		{modbusx.Holding, 5000, 2, modbusx.ErrIllegalAddress, "write-only power"},
	}
	for _, r := range reads {
		_, err := cl.Read(ctx, r.t, r.addr, r.n)
		if r.wantErr == nil && err != nil || r.wantErr != nil && !errors.Is(err, r.wantErr) {
			t.Errorf("%s: err = %v, want %v", r.what, err, r.wantErr)
		}
	}
	lim, err := cl.Read(ctx, modbusx.Holding, regMaxCurrent, 9)
	if err != nil || lim[0] != 16 || lim[2] != 6 || lim[4] != 16 || lim[6] != 32 || lim[8] != 16 {
		t.Errorf("limits %v (%v)", lim, err)
	}
	writes := []struct {
		addr    uint16
		regs    []uint16
		wantErr error
		what    string
	}{
		{regChargeAmps, []uint16{16}, nil, "current"},
		{regChargeAmps, []uint16{0}, nil, "pause"},
		{regChargeAmps, []uint16{5}, modbusx.ErrIllegalValue, "below 6 A"},
		{regChargeAmps, []uint16{17}, modbusx.ErrIllegalValue, "above the station maximum"},
		{regChargePower, modbusx.EncodeUint32(4140, modbusx.HighWordFirst), nil, "power"},
		{regChargePower, modbusx.EncodeUint32(20000, modbusx.HighWordFirst), modbusx.ErrIllegalValue, "power above the maximum"},
		{regChargePower, []uint16{0}, modbusx.ErrIllegalAddress, "half the power"},
		{regChargeAction, []uint16{3}, modbusx.ErrIllegalValue, "action 3"},
		{regLifeBit, []uint16{2}, modbusx.ErrIllegalValue, "life bit 2"},
		{regSafeCurrent, []uint16{3}, modbusx.ErrIllegalValue, "safe current 3 A"},
		{regComTimeout, []uint16{60}, nil, "timeout"},
		{regSafeCurrent, []uint16{8, 0, 60}, modbusx.ErrIllegalAddress, "2000..2002 crosses the reserved 2001"},
		{regCPState, []uint16{1}, modbusx.ErrIllegalAddress, "read-only register"},
	}
	for _, w := range writes {
		if err := cl.Write(ctx, w.addr, w.regs); w.wantErr == nil && err != nil || w.wantErr != nil && !errors.Is(err, w.wantErr) {
			t.Errorf("write %s: err = %v, want %v", w.what, err, w.wantErr)
		}
	}
	if sk := unitState(s); sk.Setpoint != 6 || sk.ComTimeout != 60 || sk.Safe != 6 {
		t.Errorf("after writes: %+v", sk)
	}
	if _, err := cl.Read(ctx, modbusx.Holding, regLifeBit, 1); err != nil {
		t.Error(err)
	}
}
