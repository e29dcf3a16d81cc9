package mennekes

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
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), "mennekes: poll hcc3") {
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
		conn.Read(make([]byte, 64))
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	})
	short := fakeServer(t, answerFC3(7))
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
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "mennekes: ") {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		c.Close()
	}
}

func TestRequestsPerPoll(t *testing.T) {
	for _, fam := range families() {
		s := startSim(t, SimConfig{Family: fam})
		c := newDriver(t, s.Addr(), testPool(t), func(o *Options) { o.Family = fam })
		for i := range 4 {
			before := s.Counters().Requests
			poll(t, c)
			if n := s.Counters().Requests - before; n != 3 {
				t.Fatalf("%s poll %d took %d requests, want 3", fam, i, n)
			}
		}
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
	d, ok := charger.Default.Lookup("mennekes")
	if !ok {
		t.Fatal("mennekes not registered")
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
	if _, ok := ch.(charger.Watchdogged); ok {
		t.Error("watchdog offered though none is set up")
	}
	o.WatchdogTimeout = 30
	ch2, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch2.(charger.Closer).Close()
	if _, ok := ch2.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, &Options{Family: "x"}, nil); err == nil {
		t.Error("bad options accepted")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "mennekes" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("mennekes simulator not registered")
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
