package heidelberg

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "heidelberg: read unit 1")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) { modbustest.SlowDevice(t, fixture, nil) }

// rtuReply answers every 8-byte RTU request with n registers, CRC right.
func rtuReply(n int) func(net.Conn) {
	return func(conn net.Conn) {
		req := make([]byte, 8)
		for {
			if _, err := io.ReadFull(conn, req); err != nil {
				return
			}
			res := []byte{req[0], req[1], byte(2 * n)}
			res = append(res, make([]byte, 2*n)...)
			res = binary.LittleEndian.AppendUint16(res, crc16(res))
			if _, err := conn.Write(res); err != nil {
				return
			}
		}
	}
}

func TestBadPeers(t *testing.T) {
	modbustest.BadPeers(t, dial, "heidelberg: ",
		modbustest.Peer{Name: "port that never answers", Addr: modbustest.FakeServer(t, modbustest.Silent), Want: modbusx.ErrTimeout},
		modbustest.Peer{Name: "non-Modbus service", Addr: modbustest.FakeServer(t, modbustest.NotModbus), Want: charger.ErrBadReply},
		modbustest.Peer{Name: "wrong word count", Addr: modbustest.FakeServer(t, rtuReply(1)), Want: charger.ErrBadReply})
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	// The first poll takes one write more: it turns standby off.
	modbustest.RequestsPerPoll(t, s, newDriver(t, s.Addr(), testPool(t), nil), 5, 4, 3, 2)
}

// TestSimulatorRegisterMap checks the gateway and box against HEC with a
// plain Modbus client and raw RTU frames.
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{WatchdogMS: 60000})
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: s.Addr(), Framing: modbusx.RTUOverTCP, Unit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	in, hold := modbusx.Input, modbusx.Holding
	for _, r := range []struct {
		t       modbusx.Table
		addr, n uint16
		want    error
	}{
		{in, regLayout, statusEnd - regLayout, nil},
		{in, regHWMax, logisticEnd - regHWMax, nil},
		{in, regVariant, 4, nil},
		{hold, regWatchdog, 6, nil},
		{in, regLayout, statusEnd - regLayout + 1, modbusx.ErrIllegalAddress},
		{in, 3, 2, modbusx.ErrIllegalAddress},
		{in, 134, 1, modbusx.ErrIllegalAddress},
		{in, regWatchdog, 1, modbusx.ErrIllegalAddress},
		{hold, regLayout, 1, modbusx.ErrIllegalAddress},
		{hold, 256, 2, modbusx.ErrIllegalAddress},
	} {
		if _, err := cl.Read(ctx, r.t, r.addr, r.n); r.want == nil && err != nil || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %s %d×%d: err = %v, want %v", r.t, r.addr, r.n, err, r.want)
		}
	}
	for _, w := range []struct {
		addr, v uint16
		want    error
	}{
		{regMaxCurrent, 60, nil},
		{regMaxCurrent, 0, nil},
		{regMaxCurrent, 59, modbusx.ErrIllegalValue},
		{regMaxCurrent, 161, modbusx.ErrIllegalValue},
		{regFailsafe, 1, modbusx.ErrIllegalValue},
		{regStandby, 3, modbusx.ErrIllegalValue},
		{regRemoteLock, 2, modbusx.ErrIllegalValue},
		{regReserved, 0, modbusx.ErrIllegalAddress},
		{regState, 1, modbusx.ErrIllegalAddress},
	} {
		if err := cl.WriteSingle(ctx, w.addr, w.v); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %d = %d: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if err := cl.Write(ctx, regMaxCurrent, []uint16{100, 70}); err != nil {
		t.Errorf("FC16 of 261..262: %v", err)
	}
	if b := s.Snapshot().Boxes[1]; b.Setpoint != 10 || b.Failsafe != 7 {
		t.Errorf("after writes: %+v", b)
	}

	// Raw frames: an unsupported function gets exception 1; a bad CRC
	// and an absent unit get silence.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame := func(b ...byte) []byte { return binary.LittleEndian.AppendUint16(b, crc16(b)) }
	conn.Write(frame(1, 1, 0, 0, 0, 1)) // read coils
	res := make([]byte, 5)
	if _, err := io.ReadFull(conn, res); err != nil || res[1] != 0x81 || res[2] != 1 {
		t.Fatalf("FC1: % x, %v", res, err)
	}
	bad := frame(1, 4, 0, 5, 0, 1)
	bad[7] ^= 0xff
	conn.Write(bad)
	conn.Write(frame(9, 4, 0, 5, 0, 1))
	conn.Write(frame(1, 4, 0, 5, 0, 1)) // only this one is answered
	res = make([]byte, 7)
	if _, err := io.ReadFull(conn, res); err != nil || res[0] != 1 || res[1] != 4 || res[2] != 2 {
		t.Fatalf("read after silence: % x, %v", res, err)
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "heidelberg", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered")
	}
	modbustest.RejectsOptions(t, d, &Options{UnitID: 300})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "heidelberg", dial)
}
