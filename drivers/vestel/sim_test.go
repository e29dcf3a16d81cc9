package vestel

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "vestel: read status")
}

func TestDeviceBusy(t *testing.T) {
	s, c := modbustest.DeviceBusy(t, fixture)
	s.Busy(1)
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("refresh err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

// TestTwoStationsOneGateway: two EVC04 behind one address (a gateway or a
// proxy with unit ids) share one connection and do not mix up.
func TestTwoStationsOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}, MaxMasters: 1})
	pool := testPool(t)
	unit := func(id int) *Charger { return newDriver(t, s, pool, func(o *Options) { o.UnitID = id }) }
	modbustest.TwoUnitsOneGateway(t, s, pool, unit(1), unit(2), unit(3), 1, func() {
		snap := s.Snapshot()
		if snap.Stations[1].Setpoint != 0 || snap.Stations[2].Setpoint != 9 {
			t.Fatalf("setpoints = %v / %v", snap.Stations[1].Setpoint, snap.Stations[2].Setpoint)
		}
	})
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	modbustest.ReadsPerPoll(t, s, newDriver(t, s, testPool(t), nil), 10, 3)
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
