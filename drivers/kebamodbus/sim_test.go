package kebamodbus

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "keba_modbus: poll")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

func TestBadPeers(t *testing.T) {
	peers := modbustest.ModbusTCPPeers(t) // the short reply: one register where two were asked
	peers = append(peers, modbustest.Peer{Name: "wrong word count (long)",
		Addr: modbustest.FakeServer(t, modbustest.AnswerFC3(0, 0, 1, 2)), Want: charger.ErrBadReply})
	modbustest.BadPeers(t, dial, "keba_modbus: ", peers...)
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	for i := range 30 {
		before := s.Counters()
		poll(t, c)
		after := s.Counters()
		if n := after.Requests - before.Requests; n != 3 || after.Writes != before.Writes {
			t.Fatalf("poll %d took %d requests (%d writes), want 3 reads", i, n, after.Writes-before.Writes)
		}
	}
}

// TestSimulatorRegisterMap checks the simulator against KEBA §2–§4 with a
// plain Modbus client, without the driver.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{PhaseSwitch: true})
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Unit: 255})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, r := range []struct {
		t       modbusx.Table
		addr, n uint16
		want    error
	}{
		{modbusx.Holding, regState, 2, nil},
		{modbusx.Holding, regFailsafeTimeout, 2, nil},
		{modbusx.Holding, regState, 4, modbusx.ErrIllegalAddress},
		{modbusx.Holding, regState + 1, 2, modbusx.ErrIllegalAddress},
		{modbusx.Holding, regState, 1, modbusx.ErrIllegalAddress},
		{modbusx.Holding, 1002, 2, modbusx.ErrIllegalAddress},
		{modbusx.Holding, 0, 2, modbusx.ErrIllegalAddress},
		{modbusx.Holding, regSetCurrent, 1, modbusx.ErrIllegalAddress},
		{modbusx.Input, regState, 2, modbusx.ErrIllegalFunction},
	} {
		if _, err := cl.Read(ctx, r.t, r.addr, r.n); r.want == nil && err != nil || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %s %d×%d: err = %v, want %v", r.t, r.addr, r.n, err, r.want)
		}
	}
	for _, w := range []struct {
		addr, v uint16
		want    error
	}{
		{regSetCurrent, 6000, nil},
		{regSetCurrent, 5999, modbusx.ErrIllegalValue},
		{regSetCurrent, 63001, modbusx.ErrIllegalValue},
		{regSetCurrent, 0, modbusx.ErrIllegalValue}, // a P30 is disabled with 5014
		{regEnable, 2, modbusx.ErrIllegalValue},
		{regSetFailTimeout, 5, modbusx.ErrIllegalValue},
		{regSetFailCurrent, 100, modbusx.ErrIllegalValue},
		{regSetPhases, 0, modbusx.ErrIllegalValue}, // source is not Modbus yet
		{regSetPhaseSource, 3, nil},
		{regSetPhases, 0, nil},
		{regSetPhases, 2, modbusx.ErrIllegalValue},
		{regSetEnergy, 100, nil},
		{regState, 1, modbusx.ErrIllegalAddress},
		{6000, 1, modbusx.ErrIllegalAddress},
	} {
		if err := cl.WriteSingle(ctx, w.addr, w.v); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %d = %d: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if err := cl.Write(ctx, regSetCurrent, []uint16{6000, 1}); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("two-register write: %v", err)
	}
	if sn := s.Snapshot(); sn.UserCurrent != 6 || sn.Phases != 1 {
		t.Errorf("after writes: %+v", sn)
	}
}

func TestEnergyInTenths(t *testing.T) {
	s := startSim(t, SimConfig{EnergyTenths: true})
	c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.EnergyUnit = "0.1Wh" })
	st := pollUntil(t, c, "energy", func(st charger.State) bool { return st.EnergyTotal != nil })
	if !near(*st.EnergyTotal, 38.101) {
		t.Fatalf("energy = %v kWh", *st.EnergyTotal)
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "keba_modbus", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered though the option is off")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{UnitID: 300})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "keba_modbus", dial)
}
