package phoenix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
	"github.com/simonvetter/modbus"
)

// coilMasters is how many connections one pool's drivers open: coils
// share the registers' connection.
func coilMasters(*Charger) int { return 1 }

func TestConnectionDroppedMidRead(t *testing.T) {
	s, c := modbustest.DroppedMidRead(t, fixture, coilMasters(nil)+1, "phoenix: read status")
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
	s, c := modbustest.DeviceBusy(t, fixture)
	s.Busy(1)
	if err := c.SetEnabled(context.Background(), false); !errors.Is(err, modbusx.ErrDeviceBusy) || !strings.Contains(err.Error(), "write coil 400") {
		t.Fatalf("coil err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) {
	modbustest.SlowDevice(t, fixture, func(impatient *Charger) {
		if err := impatient.SetEnabled(context.Background(), true); !errors.Is(err, modbusx.ErrTimeout) {
			t.Fatalf("coil err = %v, want timeout", err)
		}
	})
}

// TestTwoControllersOneGateway: two controllers behind one address (a
// gateway or a proxy with unit ids) share one connection and do not mix
// up.
func TestTwoControllersOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}, MaxMasters: 4})
	pool := testPool(t)
	unit := func(id int) *Charger { return newDriver(t, s, pool, func(o *Options) { o.UnitID = id }) }
	a := unit(1)
	modbustest.TwoUnitsOneGateway(t, s, pool, a, unit(2), unit(3), 1+2*(coilMasters(a)-1), func() {
		snap := s.Snapshot()
		if snap.Units[1].Enabled || !snap.Units[2].Enabled || snap.Units[1].Setpoint != 16 || snap.Units[2].Setpoint != 9 {
			t.Fatalf("units = %+v", snap.Units)
		}
	})
}

func TestRequestsPerPoll(t *testing.T) {
	for _, wallbe := range []bool{false, true} {
		t.Run(fmt.Sprint("wallbe=", wallbe), func(t *testing.T) {
			s := startSim(t, SimConfig{Wallbe: wallbe})
			modbustest.ReadsPerPoll(t, s, newDriver(t, s, testPool(t), nil), 5, 3)
		})
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
