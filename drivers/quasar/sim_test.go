package quasar

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// TestSimulatorRegisterMap checks the simulator against MAP with a plain
// Modbus client, without the driver.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{})
	cl := plainClient(t, s, testPool(t))
	ctx := context.Background()
	reads := []struct {
		t       modbusx.Table
		addr, n uint16
		wantErr error
		what    string
	}{
		{modbusx.Holding, 1, 3, nil, "identity"},
		{modbusx.Holding, 81, 3, nil, "control"},
		{modbusx.Holding, 88, 1, nil, "idle timeout"},
		{modbusx.Holding, 256, 3, nil, "lock, action, current"},
		{modbusx.Holding, 260, 1, nil, "power setpoint"},
		{modbusx.Holding, 514, 1, nil, "max power"},
		{modbusx.Holding, 526, 17, nil, "power, state, SoC, errors"},
		{modbusx.Holding, 0, 1, modbusx.ErrIllegalAddress, "register 0"},
		{modbusx.Holding, 1, 4, modbusx.ErrIllegalAddress, "past the identity"},
		{modbusx.Holding, 81, 8, modbusx.ErrIllegalAddress, "81..88 across the hole"},
		{modbusx.Holding, 84, 1, modbusx.ErrIllegalAddress, "84"},
		{modbusx.Holding, 256, 5, modbusx.ErrIllegalAddress, "256..260 across 259"},
		{modbusx.Holding, 525, 2, modbusx.ErrIllegalAddress, "before 526"},
		{modbusx.Holding, 542, 2, modbusx.ErrIllegalAddress, "past 542"},
		{modbusx.Input, 526, 1, modbusx.ErrIllegalFunction, "input registers"},
	}
	for _, r := range reads {
		_, err := cl.Read(ctx, r.t, r.addr, r.n)
		if r.wantErr == nil && err != nil || r.wantErr != nil && !errors.Is(err, r.wantErr) {
			t.Errorf("%s: err = %v, want %v", r.what, err, r.wantErr)
		}
	}
	id, err := cl.Read(ctx, modbusx.Holding, 1, 3)
	if err != nil || id[0] != 604 || uint32(id[1])<<16|uint32(id[2]) != 123456789 {
		t.Errorf("identity %v (%v)", id, err)
	}
	neg := func(v int16) uint16 { return uint16(v) }
	writes := []struct {
		addr    uint16
		regs    []uint16
		wantErr error
		what    string
	}{
		{regCurrent, []uint16{10}, modbusx.ErrIllegalValue, "current under user control"},
		{regAction, []uint16{1}, modbusx.ErrIllegalValue, "start under user control"},
		{regIdleTimeout, []uint16{30}, modbusx.ErrIllegalValue, "timeout under user control"},
		{regControl, []uint16{2}, modbusx.ErrIllegalValue, "control 2"},
		{regControl, []uint16{1}, nil, "remote control"},
		{regCurrent, []uint16{10}, nil, "current"},
		{regCurrent, []uint16{33}, modbusx.ErrIllegalValue, "33 A"},
		{regCurrent, []uint16{neg(-33)}, modbusx.ErrIllegalValue, "-33 A"},
		{regCurrent, []uint16{neg(-10)}, nil, "discharge current"},
		{regPower, []uint16{8000}, modbusx.ErrIllegalValue, "8000 W"},
		{regPower, []uint16{neg(-3000)}, nil, "discharge power"},
		{regMaxPower, []uint16{1000}, modbusx.ErrIllegalValue, "max power 1000 W"},
		{regMaxPower, []uint16{3680}, nil, "max power 3680 W"},
		{regCurrent, []uint16{17}, modbusx.ErrIllegalValue, "17 A above 3680 W"},
		{regAction, []uint16{3}, modbusx.ErrIllegalValue, "action 3"},
		{regIdleTimeout, []uint16{3601}, modbusx.ErrIllegalValue, "timeout 3601 s"},
		{regIdleTimeout, []uint16{30}, nil, "timeout"},
		{regActualPower, []uint16{1}, modbusx.ErrIllegalAddress, "read-only power"},
		{regFirmware, []uint16{1}, modbusx.ErrIllegalAddress, "read-only firmware"},
		{300, []uint16{1}, modbusx.ErrIllegalAddress, "unmapped"},
		{regControl, []uint16{1, 0, 0}, nil, "81..83 in one request"},
		{regControl, []uint16{0, 0}, modbusx.ErrIllegalValue, "user control, then autostart"},
		{regLock, []uint16{1}, nil, "lock"},
	}
	for _, w := range writes {
		if err := cl.Write(ctx, w.addr, w.regs); w.wantErr == nil && err != nil || w.wantErr != nil && !errors.Is(err, w.wantErr) {
			t.Errorf("write %s: err = %v, want %v", w.what, err, w.wantErr)
		}
	}
	sk := unitState(s)
	if sk.Control != 1 || sk.Autostart != 0 || sk.Current != -10 || sk.PowerSetpoint != -3000 ||
		sk.MaxPower != 3680 || sk.IdleTimeout != 30 || sk.Locked != 1 {
		t.Errorf("after writes: %+v", sk)
	}
	if st, err := cl.Read(ctx, modbusx.Holding, regState, 1); err != nil || st[0] != 6 {
		t.Errorf("locked without a car: state %v (%v)", st, err)
	}
	other, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Unit: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Read(ctx, modbusx.Holding, regState, 1); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Errorf("unit 2: %v", err)
	}
}

// TestSimulatorPowerSetpoint: the power setpoint (which the driver never
// writes) drives the car as well, in both directions.
func TestSimulatorPowerSetpoint(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.Plug(true)
	cl := plainClient(t, s, testPool(t))
	ctx := context.Background()
	if err := cl.Write(ctx, regControl, []uint16{1, 0, typePower}); err != nil {
		t.Fatal(err)
	}
	for _, w := range [][2]uint16{{regPower, 2300}, {regAction, actionStart}} {
		if err := cl.WriteSingle(ctx, w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "charging at 10 A", func() bool { sk := unitState(s); return sk.State == 1 && sk.Power == 2300 })
	if err := cl.WriteSingle(ctx, regPower, uint16(0xffff-1499)); err != nil { // -1500 W
		t.Fatal(err)
	}
	if sk := unitState(s); sk.State != 11 || sk.Power != -1500 || sk.Applied != 0 {
		t.Fatalf("discharging: %+v", sk)
	}
	if err := cl.WriteSingle(ctx, regAction, actionStop); err != nil {
		t.Fatal(err)
	}
	if sk := unitState(s); sk.State != 4 || sk.Power != 0 {
		t.Fatalf("stopped: %+v", sk)
	}
}
