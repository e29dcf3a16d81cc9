package abl

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "abl_em4: read connector 1")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

func TestBadPeers(t *testing.T) {
	modbustest.BadPeers(t, dial, "abl_em4: ", modbustest.ModbusTCPPeers(t)...)
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	modbustest.RequestsPerPoll(t, s, newDriver(t, s.Addr(), testPool(t), nil), 5, 2)
}

// TestSimulatorRegisterMap checks the simulator's map with a plain client.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{Connectors: 2})
	pool := testPool(t)
	cl, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: 255})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	other, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	for _, r := range []struct {
		c       *modbusx.Client
		t       modbusx.Table
		addr, n uint16
		want    error
	}{
		{cl, modbusx.Holding, regCurrentL1, 16, nil},
		{cl, modbusx.Holding, regState, 2, nil},
		{cl, modbusx.Holding, regState + connectorStride, 2, nil},
		{cl, modbusx.Holding, regCurrentL1, 17, modbusx.ErrIllegalAddress},
		{cl, modbusx.Holding, regCurrentL1, 50, modbusx.ErrIllegalAddress},
		{cl, modbusx.Holding, 0x3000, 1, modbusx.ErrIllegalAddress},
		{cl, modbusx.Holding, regState + 2*connectorStride, 2, modbusx.ErrIllegalAddress},
		{cl, modbusx.Holding, 0, 1, modbusx.ErrIllegalAddress},
		{cl, modbusx.Input, regState, 1, modbusx.ErrIllegalFunction},
		{other, modbusx.Holding, regState, 1, modbusx.ErrIllegalAddress},
	} {
		if _, err := r.c.Read(ctx, r.t, r.addr, r.n); r.want == nil && err != nil || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %s %#x×%d: err = %v, want %v", r.t, r.addr, r.n, err, r.want)
		}
	}
	for _, w := range []struct {
		addr, v uint16
		want    error
	}{
		{regMaxCurrent, 60, nil},
		{regMaxCurrent + connectorStride, 0, nil},
		{regMaxCurrent, 59, modbusx.ErrIllegalValue},
		{regMaxCurrent, 321, modbusx.ErrIllegalValue},
		{regState, 0xA1, modbusx.ErrIllegalAddress},
		{regCurrentL1, 1, modbusx.ErrIllegalAddress},
	} {
		if err := cl.WriteSingle(ctx, w.addr, w.v); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %#x = %d: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if sn := s.Snapshot(); sn.Connectors[0].Setpoint != 6 || sn.Connectors[1].Setpoint != 0 {
		t.Errorf("after writes: %+v", sn.Connectors)
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "abl_em4", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.Watchdogged); ok {
		t.Error("watchdog offered though none is set up")
	}
	o.WatchdogTimeout = 30
	ch2 := modbustest.Instance(t, d, o)
	if _, ok := ch2.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{Connector: 5})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "abl_em4", dial)
}
