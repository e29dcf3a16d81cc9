package mennekes

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "mennekes: poll hcc3")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

func TestBadPeers(t *testing.T) {
	modbustest.BadPeers(t, dial, "mennekes: ", modbustest.ModbusTCPPeers(t)...)
}

func TestRequestsPerPoll(t *testing.T) {
	for _, fam := range families() {
		t.Run(fam, func(t *testing.T) {
			s := startSim(t, SimConfig{Family: fam})
			c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Family = fam })
			modbustest.RequestsPerPoll(t, s, c, 4, 3)
		})
	}
}

// TestSimulatorRegisterMap checks both maps with a plain client.
func TestSimulatorRegisterMap(t *testing.T) {
	hcc, ben := startSim(t, SimConfig{}), startSim(t, SimConfig{Family: "bender"})
	pool := testPool(t)
	client := func(s *Simulator, unit uint8) *modbusx.Client {
		c, err := pool.Client(modbusx.Endpoint{Address: s.Addr(), Unit: unit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	h, b, other := client(hcc, 255), client(ben, 255), client(hcc, 1)
	ctx := context.Background()
	in, hold := modbusx.Input, modbusx.Holding
	for _, r := range []struct {
		c       *modbusx.Client
		t       modbusx.Table
		addr, n uint16
		want    error
	}{
		{h, in, hccCP, 4, nil},
		{h, in, hccPhases, 20, nil},
		{h, in, hccPlannedMin, 2, nil},
		{h, hold, hccLimit, 1, nil},
		{h, in, hccCP, 6, modbusx.ErrIllegalAddress},
		{h, in, hccPhases, 21, modbusx.ErrIllegalAddress},
		{h, hold, hccChargeCmd, 1, modbusx.ErrIllegalAddress},
		{h, hold, hccCP, 1, modbusx.ErrIllegalAddress},
		{other, in, hccCP, 1, modbusx.ErrIllegalAddress},
		{b, hold, benFirmware, 52, nil},
		{b, hold, benMeter, 28, nil},
		{b, hold, benSession, 50, nil},
		{b, hold, benLimit, 1, nil},
		{b, hold, benMeter, 29, modbusx.ErrIllegalAddress},
		{b, hold, 99, 2, modbusx.ErrIllegalAddress},
		{b, in, benCP, 1, modbusx.ErrIllegalFunction},
	} {
		if _, err := r.c.Read(ctx, r.t, r.addr, r.n); r.want == nil && err != nil || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %s %d×%d: err = %v, want %v", r.t, r.addr, r.n, err, r.want)
		}
	}
	for _, w := range []struct {
		c       *modbusx.Client
		addr, v uint16
		want    error
	}{
		{h, hccLimit, 6, nil},
		{h, hccLimit, 5, modbusx.ErrIllegalValue},
		{h, hccLimit, 17, modbusx.ErrIllegalValue},
		{h, hccChargeCmd, 1, nil},
		{h, hccChargeCmd, 5, modbusx.ErrIllegalValue},
		{h, hccRated, 1, modbusx.ErrIllegalAddress},
		{b, benLimit, 0, nil},
		{b, benLimit, 40, modbusx.ErrIllegalValue},
		{b, hccChargeCmd, 1, modbusx.ErrIllegalAddress},
		{b, benCP, 1, modbusx.ErrIllegalAddress},
	} {
		if err := w.c.WriteSingle(ctx, w.addr, w.v); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %d = %d: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if sn := hcc.Snapshot(); sn.Limit != 6 || !sn.Paused || sn.Applied != 0 {
		t.Errorf("hcc3 after writes: %+v", sn)
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "mennekes", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.Watchdogged); ok {
		t.Error("watchdog offered though none is set up")
	}
	o.WatchdogTimeout = 30
	ch2 := modbustest.Instance(t, d, o)
	if _, ok := ch2.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{Family: "x"})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "mennekes", dial)
}
