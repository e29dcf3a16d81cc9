package modbussim

import (
	"context"
	"errors"
	"io"
	"log"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simonvetter/modbus"
)

// regs serves zeros in the holding registers after the fault injection.
type regs struct {
	IllegalFunctions
	s *Server
}

func (h *regs) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	if err := h.s.Admit(req.ClientAddr, req.IsWrite); err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, nil
	}
	return make([]uint16, req.Quantity), nil
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	h := &regs{}
	cfg.Handler = h
	s := New(cfg)
	h.s = s
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(t *testing.T, addr string, timeout time.Duration) *modbus.ModbusClient {
	t.Helper()
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: timeout,
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCountersAndFaults(t *testing.T) {
	s := start(t, Config{Name: "test"})
	c := client(t, s.Addr(), time.Second)
	if _, err := c.ReadRegisters(0, 2, modbus.HOLDING_REGISTER); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRegister(0, 1); err != nil {
		t.Fatal(err)
	}
	s.Busy(1)
	if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrServerDeviceBusy) {
		t.Fatalf("err = %v, want device busy", err)
	}
	s.Drop(1)
	if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); err == nil {
		t.Fatal("dropped read answered")
	}
	if got, want := s.Counters(), (Counters{Requests: 4, Reads: 3, Writes: 1}); got != want {
		t.Fatalf("counters %+v, want %+v", got, want)
	}
	if s.Masters() != 1 {
		t.Fatalf("masters = %d, want 1", s.Masters())
	}
}

// TestDropSparesWrites: a dropped connection is a read fault; writes
// pass so that a driver's retry logic is tested on reads only.
func TestDropSparesWrites(t *testing.T) {
	s := start(t, Config{Name: "test"})
	c := client(t, s.Addr(), time.Second)
	s.Drop(1)
	if err := c.WriteRegister(0, 1); err != nil {
		t.Fatalf("write err = %v", err)
	}
}

func TestDelayAndHang(t *testing.T) {
	s := start(t, Config{Name: "test"})
	c := client(t, s.Addr(), 100*time.Millisecond)
	s.Delay(300 * time.Millisecond)
	if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
		t.Fatalf("slow err = %v, want timeout", err)
	}
	s.Delay(0)
	s.Hang(1)
	c2 := client(t, s.Addr(), 200*time.Millisecond)
	if _, err := c2.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
		t.Fatalf("hung err = %v, want timeout", err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
}

func TestRestartOnSameAddress(t *testing.T) {
	var ticks atomic.Int32
	s := start(t, Config{Name: "test", Tick: func(time.Time) { ticks.Add(1) }, TickEvery: time.Millisecond})
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Start(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
	}
	c := client(t, addr, time.Second)
	if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ticks.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if ticks.Load() == 0 {
		t.Fatal("model never ticked")
	}
}

func TestContextEndCloses(t *testing.T) {
	h := &regs{}
	s := New(Config{Name: "test", Handler: h})
	h.s = s
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		stopped := s.stop == nil
		s.mu.Unlock()
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("server still running after ctx ended")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBadAddress(t *testing.T) {
	s := New(Config{Name: "test", Handler: &regs{}})
	if err := s.Start(context.Background(), "no port"); err == nil || err.Error()[:9] != "test sim:" {
		t.Fatalf("err = %v", err)
	}
}
