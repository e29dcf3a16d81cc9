package modbusx

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/simonvetter/modbus"
)

// device is a modbus.RequestHandler with registers per unit and knobs
// for faults; it records which client connections it saw.
type device struct {
	mu      sync.Mutex
	regs    map[uint8]map[uint16]uint16
	clients map[string]bool
	drop    int // the next n requests close the connection unanswered
	busy    int // the next n requests get "device busy"
	reqs    int
}

func newDevice() *device {
	d := &device{regs: map[uint8]map[uint16]uint16{}, clients: map[string]bool{}}
	for unit := uint8(1); unit <= 2; unit++ {
		d.regs[unit] = map[uint16]uint16{}
		for a := uint16(100); a < 110; a++ {
			d.regs[unit][a] = uint16(unit)*1000 + a
		}
	}
	return d
}

func (d *device) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clients[req.ClientAddr] = true
	d.reqs++
	if d.drop > 0 {
		d.drop--
		return nil, modbus.ErrProtocolError // the server closes the link
	}
	if d.busy > 0 {
		d.busy--
		return nil, modbus.ErrServerDeviceBusy
	}
	regs, ok := d.regs[req.UnitId]
	if !ok {
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	out := make([]uint16, req.Quantity)
	for i := range out {
		a := req.Addr + uint16(i)
		v, ok := regs[a]
		if !ok {
			return nil, modbus.ErrIllegalDataAddress
		}
		if req.IsWrite {
			regs[a] = req.Args[i]
			continue
		}
		out[i] = v
	}
	return out, nil
}

func (d *device) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (d *device) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (d *device) HandleInputRegisters(*modbus.InputRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalFunction
}

func (d *device) seen() (clients, reqs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.clients), d.reqs
}

func (d *device) set(f func(d *device)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serve runs d on a fresh loopback port.
func serve(t testing.TB, d *device) string {
	t.Helper()
	for try := 0; ; try++ {
		addr := freeAddr(t)
		srv, err := modbus.NewServer(&modbus.ServerConfiguration{
			URL: "tcp://" + addr, Timeout: 30 * time.Second, MaxClients: 10,
			Logger: log.New(io.Discard, "", 0),
		}, d)
		if err != nil {
			t.Fatal(err)
		}
		if err = srv.Start(); err != nil {
			if try < 5 {
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Stop() })
		return addr
	}
}

func client(t testing.TB, p *Pool, addr string, unit uint8) *Client {
	t.Helper()
	c, err := p.Client(Endpoint{Address: addr, Unit: unit, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newPool(t testing.TB, cfg PoolConfig) *Pool {
	p := NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

func TestTwoUnitsShareOneConnection(t *testing.T) {
	d := newDevice()
	addr := serve(t, d)
	p := newPool(t, PoolConfig{})
	c1, c2 := client(t, p, addr, 1), client(t, p, addr, 2)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, c := range []*Client{c1, c2, c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				r, err := c.Read(ctx, Holding, 100, 10)
				if err != nil {
					errs <- err
					return
				}
				if want := uint16(c.Endpoint().Unit)*1000 + 100; r[0] != want || len(r) != 10 {
					errs <- errors.New("wrong unit answered")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, reqs := d.seen(); n != 1 || reqs != 80 {
		t.Fatalf("server saw %d connections and %d requests, want 1 and 80", n, reqs)
	}
	if s := p.Stats(); s.Conns != 1 || s.Open != 1 || s.Dials != 1 || s.Requests != 80 {
		t.Fatalf("stats = %+v", s)
	}
	// Writes go to the right unit too.
	if err := c2.Write(ctx, 105, []uint16{7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := c1.WriteSingle(ctx, 101, 9); err != nil {
		t.Fatal(err)
	}
	r1, _ := c1.Read(ctx, Holding, 101, 1)
	r2, _ := c2.Read(ctx, Holding, 105, 2)
	if r1[0] != 9 || r2[0] != 7 || r2[1] != 8 {
		t.Fatalf("after writes: unit 1 %v, unit 2 %v", r1, r2)
	}
}

func TestReconnectAfterServerCloses(t *testing.T) {
	d := newDevice()
	addr := serve(t, d)
	p := newPool(t, PoolConfig{BackoffMin: 5 * time.Millisecond})
	c := client(t, p, addr, 1)
	ctx := context.Background()
	if _, err := c.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatal(err)
	}
	// The device drops the link once: a read is retried on a new one.
	d.set(func(d *device) { d.drop = 1 })
	if _, err := c.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatalf("read after one drop: %v", err)
	}
	if n, _ := d.seen(); n != 2 {
		t.Fatalf("server saw %d connections, want 2", n)
	}
	// Dropped twice in a row: the read fails clearly, the next one works.
	d.set(func(d *device) { d.drop = 2 })
	_, err := c.Read(ctx, Holding, 100, 1)
	if !errors.Is(err, ErrConnection) {
		t.Fatalf("err = %v, want ErrConnection", err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "unit 1") {
		t.Errorf("error lacks context: %v", err)
	}
	// Two failures in a row start the backoff; then it reconnects.
	waitFor(t, "reconnect", func() bool { _, err := c.Read(ctx, Holding, 100, 1); return err == nil })
	// A write is never retried: it fails, and the link recovers.
	d.set(func(d *device) { d.drop = 1 })
	if err := c.WriteSingle(ctx, 100, 1); !errors.Is(err, ErrConnection) {
		t.Fatalf("write err = %v, want ErrConnection", err)
	}
	if err := c.WriteSingle(ctx, 100, 1); err != nil {
		t.Fatalf("write after reconnect: %v", err)
	}
}

func TestExceptions(t *testing.T) {
	d := newDevice()
	addr := serve(t, d)
	p := newPool(t, PoolConfig{})
	c := client(t, p, addr, 1)
	ctx := context.Background()

	_, err := c.Read(ctx, Holding, 105, 10)
	if !errors.Is(err, ErrIllegalAddress) || !errors.Is(err, ErrException) {
		t.Fatalf("err = %v, want illegal data address", err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Addr != 105 || me.Count != 10 || me.Unit != 1 {
		t.Fatalf("error detail = %+v", me)
	}
	for _, want := range []string{"unit 1", "105..114", "illegal data address", "exception 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	d.set(func(d *device) { d.busy = 1 })
	if _, err := c.Read(ctx, Holding, 100, 1); !errors.Is(err, ErrDeviceBusy) || errors.Is(err, ErrIllegalAddress) {
		t.Fatalf("err = %v, want device busy", err)
	}
	if _, err := c.Read(ctx, Input, 100, 1); !errors.Is(err, ErrIllegalFunction) || !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("err = %v, want illegal function", err)
	}
	gw := client(t, p, addr, 9)
	if _, err := gw.Read(ctx, Holding, 100, 1); !errors.Is(err, ErrGatewayTarget) {
		t.Fatalf("err = %v, want gateway target failed", err)
	}
	// Exceptions come from a live device: the connection stays.
	if s := p.Stats(); s.Dials != 1 || s.Open != 1 {
		t.Fatalf("stats = %+v, want one dial", s)
	}
	if _, err := c.Read(ctx, Holding, 0, 0); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("zero count: %v", err)
	}
	if err := c.Write(ctx, 0, nil); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("empty write: %v", err)
	}
}

// silent accepts connections and never answers; garbage answers every
// request with an HTTP error page.
func fakeService(t *testing.T, reply []byte) string {
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
			t.Cleanup(func() { conn.Close() })
			go func() {
				buf := make([]byte, 256)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
					if reply != nil {
						conn.Write(reply)
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func TestSilentPortTimesOut(t *testing.T) {
	addr := fakeService(t, nil)
	p := newPool(t, PoolConfig{})
	c, err := p.Client(Endpoint{Address: addr, Unit: 1, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Read(context.Background(), Holding, 100, 2)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// A context deadline shorter than the timeout also ends the wait.
	c2, _ := p.Client(Endpoint{Address: addr, Unit: 2, Timeout: time.Minute})
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err = c2.Read(ctx, Holding, 100, 2); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want timeout from the context", err)
	}
}

func TestContextDoneSendsNothing(t *testing.T) {
	d := newDevice()
	addr := serve(t, d)
	p := newPool(t, PoolConfig{})
	c := client(t, p, addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Read(ctx, Holding, 100, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s := p.Stats(); s.Dials != 0 || s.Requests != 0 {
		t.Fatalf("stats = %+v, want nothing sent", s)
	}
}

func TestNonModbusService(t *testing.T) {
	addr := fakeService(t, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	p := newPool(t, PoolConfig{})
	c := client(t, p, addr, 1)
	_, err := c.Read(context.Background(), Holding, 100, 2)
	if !errors.Is(err, ErrBadFrame) || !errors.Is(err, charger.ErrBadReply) {
		t.Fatalf("err = %v, want ErrBadFrame", err)
	}
	if !strings.Contains(err.Error(), "not a valid modbus frame") {
		t.Errorf("unclear error: %v", err)
	}
}

func TestUnreachableBacksOff(t *testing.T) {
	addr := freeAddr(t)
	p := newPool(t, PoolConfig{BackoffMin: time.Hour})
	c := client(t, p, addr, 1)
	ctx := context.Background()
	for i := range 4 {
		if _, err := c.Read(ctx, Holding, 100, 1); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("read %d: err = %v, want ErrUnreachable", i, err)
		}
	}
	// The first retry is immediate, then the hour-long backoff holds.
	if s := p.Stats(); s.Dials != 2 {
		t.Fatalf("dials = %d, want 2", s.Dials)
	}
}

func TestIdleCloseAndRefCount(t *testing.T) {
	d := newDevice()
	addr := serve(t, d)
	p := newPool(t, PoolConfig{IdleTimeout: 50 * time.Millisecond})
	a, b := client(t, p, addr, 1), client(t, p, addr, 2)
	ctx := context.Background()
	if _, err := a.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "idle close", func() bool { return p.Stats().Open == 0 })
	if _, err := b.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatalf("read after idle close: %v", err)
	}
	if s := p.Stats(); s.Dials != 2 {
		t.Fatalf("dials = %d, want 2", s.Dials)
	}
	a.Close()
	if s := p.Stats(); s.Conns != 1 {
		t.Fatalf("after first close: %+v", s)
	}
	if _, err := a.Read(ctx, Holding, 100, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("read on closed client: %v", err)
	}
	b.Close()
	if s := p.Stats(); s.Conns != 0 || s.Open != 0 {
		t.Fatalf("after last close: %+v", s)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEndpointValidation(t *testing.T) {
	p := newPool(t, PoolConfig{})
	if _, err := p.Client(Endpoint{Address: "10.0.0.5"}); err == nil {
		t.Error("address without port accepted")
	}
	if _, err := p.Client(Endpoint{Address: "10.0.0.5:502", Framing: 9}); err == nil {
		t.Error("unknown framing accepted")
	}
	for in, want := range map[string]string{"10.0.0.5": "10.0.0.5:502", "h:1502": "h:1502", "::1": "[::1]:502", "[::1]": "[::1]:502"} {
		if got := HostPort(in, 502); got != want {
			t.Errorf("HostPort(%q) = %q, want %q", in, got, want)
		}
	}
}
