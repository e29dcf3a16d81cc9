package heidelberg

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	poll(t, c)
	s.Drop(1) // retried once on a new connection
	poll(t, c)
	if m := s.Snapshot().Masters; m != 2 {
		t.Fatalf("gateway saw %d connections, want 2", m)
	}
	s.Drop(2)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "heidelberg: read unit 1") {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
}

func TestDeviceBusy(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	s.Busy(1)
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("err = %v, want device busy", err)
	}
	poll(t, c)
	s.Busy(1)
	if err := c.SetCurrent(context.Background(), 10); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("write err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil) // 3 s timeout
	s.Delay(100 * time.Millisecond)
	poll(t, c)
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

// fakeServer accepts connections on loopback and hands each to serve.
func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); serve(conn) }()
		}
	}()
	return l.Addr().String()
}

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
	silent := fakeServer(t, func(conn net.Conn) { io.Copy(io.Discard, conn) })
	http := fakeServer(t, func(conn net.Conn) {
		conn.Read(make([]byte, 64))
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	})
	short := fakeServer(t, rtuReply(1))
	for _, tc := range []struct {
		name, addr string
		want       error
	}{
		{"port that never answers", silent, modbusx.ErrTimeout},
		{"non-Modbus service", http, charger.ErrBadReply},
		{"wrong word count", short, charger.ErrBadReply},
	} {
		c, err := New(charger.Settings{Address: tc.addr, Timeout: 300 * time.Millisecond}, DefaultOptions(), nil, testPool(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Poll(context.Background())
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "heidelberg: ") {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		c.Close()
	}
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	for i, want := range []uint64{4, 3, 2, 2, 2} { // first: one write turns standby off
		before := s.Counters().Requests
		poll(t, c)
		if n := s.Counters().Requests - before; n != want {
			t.Fatalf("poll %d took %d requests, want %d", i, n, want)
		}
	}
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
	d, ok := charger.Default.Lookup("heidelberg")
	if !ok {
		t.Fatal("heidelberg not registered")
	}
	o, ok := d.NewOptions().(*Options)
	if !ok || *o != DefaultOptions() || d.DefaultPort != 502 {
		t.Fatalf("options %+v, port %d", o, d.DefaultPort)
	}
	ch, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.(charger.Closer).Close()
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered")
	}
	if _, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, &Options{UnitID: 300}, nil); err == nil {
		t.Error("bad options accepted")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "heidelberg" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("heidelberg simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	c := newDriver(t, <-bound, testPool(t), nil)
	if st := poll(t, c); st.Status == charger.StatusNoVehicle || st.Status == charger.StatusUnknown {
		t.Errorf("standalone simulator has no car: %s", st.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
