package webastonext

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "webasto_next: read status")
}

func TestDeviceBusy(t *testing.T) {
	s, c := modbustest.DeviceBusy(t, fixture)
	s.Busy(1)
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("refresh err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

// TestTwoStationsOneGateway: two Nexts behind one address (a gateway or a
// proxy with unit ids) share one connection and do not mix up.
func TestTwoStationsOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}})
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
	modbustest.ReadsPerPoll(t, s, newDriver(t, s, testPool(t), nil), 5, 3)
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
