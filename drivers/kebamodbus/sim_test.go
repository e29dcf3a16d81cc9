package kebamodbus

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
		t.Fatalf("station saw %d connections, want 2", m)
	}
	s.Drop(2)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "keba_modbus: poll") {
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

// answerFC3 answers every Modbus TCP request with regs as an FC3 reply.
func answerFC3(regs ...uint16) func(net.Conn) {
	return func(conn net.Conn) {
		hdr := make([]byte, 7)
		for {
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint16(hdr[4:6]))-1); err != nil {
				return
			}
			pdu := []byte{3, byte(2 * len(regs))}
			for _, r := range regs {
				pdu = binary.BigEndian.AppendUint16(pdu, r)
			}
			res := append(hdr[:4:4], 0, byte(len(pdu)+1), hdr[6])
			if _, err := conn.Write(append(res, pdu...)); err != nil {
				return
			}
		}
	}
}

func TestBadPeers(t *testing.T) {
	silent := fakeServer(t, func(conn net.Conn) { io.Copy(io.Discard, conn) })
	http := fakeServer(t, func(conn net.Conn) {
		buf := make([]byte, 64)
		conn.Read(buf)
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	})
	short := fakeServer(t, answerFC3(7))         // one register where two were asked
	long := fakeServer(t, answerFC3(0, 0, 1, 2)) // four registers
	for _, tc := range []struct {
		name, addr string
		want       error
	}{
		{"port that never answers", silent, modbusx.ErrTimeout},
		{"non-Modbus service", http, charger.ErrBadReply},
		{"wrong word count (short)", short, charger.ErrBadReply},
		{"wrong word count (long)", long, charger.ErrBadReply},
	} {
		c, err := New(charger.Settings{Address: tc.addr, Timeout: 300 * time.Millisecond}, DefaultOptions(), nil, testPool(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Poll(context.Background())
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "keba_modbus: ") {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		c.Close()
	}
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
	d, ok := charger.Default.Lookup("keba_modbus")
	if !ok {
		t.Fatal("keba_modbus not registered")
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
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("phase switching offered though the option is off")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, &Options{UnitID: 300}, nil); err == nil {
		t.Error("bad options accepted")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "keba_modbus" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("keba_modbus simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	c := newDriver(t, <-bound, testPool(t), nil)
	st := pollUntil(t, c, "cable state", func(st charger.State) bool { return st.Status != charger.StatusUnknown })
	if st.Status == charger.StatusNoVehicle {
		t.Errorf("standalone simulator has no car: %s", st.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
