package vestel

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
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "vestel: read status") {
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

// TestTwoStationsOneGateway: two EVC04 behind one address (a gateway or a
// proxy with unit ids) share one connection and do not mix up.
func TestTwoStationsOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}, MaxMasters: 1})
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
	// A unit nobody answers for is the gateway's exception.
	other := newDriver(t, s, pool, func(o *Options) { o.UnitID = 3 })
	if _, err := other.Poll(ctx); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Fatalf("unit 3: %v", err)
	}
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s, testPool(t), nil)
	for i := range 10 {
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
	s := startSim(t, SimConfig{Serial: "ABC"})
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
		{modbusx.Input, 100, 115, nil, "identity"},
		{modbusx.Input, 230, 66, nil, "firmware, date and time"},
		{modbusx.Input, 400, 5, nil, "installation"},
		{modbusx.Input, 1000, 38, nil, "status and meter"},
		{modbusx.Input, 1100, 7, nil, "limits"},
		{modbusx.Input, 1500, 31, nil, "session"},
		{modbusx.Holding, 405, 1, nil, "phase switch"},
		{modbusx.Holding, 2000, 3, nil, "failsafe"},
		{modbusx.Holding, 5004, 1, nil, "charging current"},
		{modbusx.Holding, 6000, 1, nil, "alive"},
		{modbusx.Input, 0, 1, modbusx.ErrIllegalAddress, "unmapped"},
		{modbusx.Input, 1037, 2, modbusx.ErrIllegalAddress, "past the status block"},
		{modbusx.Input, 999, 2, modbusx.ErrIllegalAddress, "before the status block"},
		{modbusx.Input, 5004, 1, modbusx.ErrIllegalAddress, "holding register by FC4"},
		{modbusx.Holding, 1000, 1, modbusx.ErrIllegalAddress, "input register by FC3"},
		{modbusx.Holding, 5003, 2, modbusx.ErrIllegalAddress, "around 5004"},
	}
	for _, r := range reads {
		_, err := cl.Read(ctx, r.t, r.addr, r.n)
		if r.wantErr == nil && err != nil || r.wantErr != nil && !errors.Is(err, r.wantErr) {
			t.Errorf("%s: err = %v, want %v", r.what, err, r.wantErr)
		}
	}
	id, err := cl.Read(ctx, modbusx.Input, regSerial, 25)
	if err != nil || charString(id) != "ABC" || id[0] != 'A' {
		t.Errorf("serial registers %v (%v): one character per register", id[:4], err)
	}
	writes := []struct {
		addr    uint16
		regs    []uint16
		wantErr error
		what    string
	}{
		{regChargingCurrent, []uint16{16}, nil, "current"},
		{regChargingCurrent, []uint16{0}, nil, "stop"},
		{regChargingCurrent, []uint16{5}, modbusx.ErrIllegalValue, "below 6 A"},
		{regChargingCurrent, []uint16{33}, modbusx.ErrIllegalValue, "above the EVSE maximum"},
		{regPhaseSwitch, []uint16{0}, nil, "one phase"},
		{regPhaseSwitch, []uint16{2}, modbusx.ErrIllegalValue, "phase switch 2"},
		{regAlive, []uint16{1}, nil, "alive"},
		{regAlive, []uint16{7}, modbusx.ErrIllegalValue, "alive 7"},
		{regFailsafeCurrent, []uint16{8}, nil, "failsafe current"},
		{regFailsafeTimeout, []uint16{3601}, modbusx.ErrIllegalValue, "failsafe timeout too long"},
		{regFailsafeCurrent, []uint16{8, 0, 20}, modbusx.ErrIllegalAddress, "2000..2002 crosses the reserved 2001"},
		{regCPState, []uint16{1}, modbusx.ErrIllegalAddress, "read-only register"},
	}
	for _, w := range writes {
		if err := cl.Write(ctx, w.addr, w.regs); w.wantErr == nil && err != nil || w.wantErr != nil && !errors.Is(err, w.wantErr) {
			t.Errorf("write %s: err = %v, want %v", w.what, err, w.wantErr)
		}
	}
	if err := cl.WriteSingle(ctx, regChargingCurrent, 20); err != nil {
		t.Errorf("FC6: %v", err)
	}
	if sk := unitState(s); sk.Setpoint != 20 || sk.Phases != 1 || sk.FailsafeCurrent != 8 || sk.FailsafeTimeout != 20 {
		t.Errorf("after writes: %+v", sk)
	}
	one := startSim(t, SimConfig{Phases: 1})
	cl1, err := testPool(t).Client(modbusx.Endpoint{Address: one.Addr(), Unit: defaultUnit})
	if err != nil {
		t.Fatal(err)
	}
	defer cl1.Close()
	if err := cl1.WriteSingle(ctx, regPhaseSwitch, 1); !errors.Is(err, modbusx.ErrIllegalValue) {
		t.Errorf("three phases on a one-phase installation: %v", err)
	}
}

// TestNewMasterResetsPhaseSwitch: with one master allowed, a new
// connection means the old one is gone, and 405 is back at its default.
func TestNewMasterResetsPhaseSwitch(t *testing.T) {
	s := startSim(t, SimConfig{MaxMasters: 1})
	ctx := context.Background()
	p1 := testPool(t)
	c := newDriver(t, s, p1, nil)
	if err := c.SetPhases(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p1.Close()
	c2 := newDriver(t, s, testPool(t), nil)
	waitFor(t, "the new master to get in", func() bool { _, err := c2.Poll(ctx); return err == nil })
	if sk := unitState(s); sk.Phases != 3 {
		t.Fatalf("phase switch after a new master = %d, want the default 3", sk.Phases)
	}
}
