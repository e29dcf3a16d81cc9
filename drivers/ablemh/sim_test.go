package ablemh

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// rawFC sends any function code to the simulator.
func rawFC(t *testing.T, addr string, pdu []byte) []byte {
	t.Helper()
	c := dial(t, addr, 3*time.Second)
	var got []byte
	err := c.cl.do(context.Background(), "raw", 0, 1, pdu, func(p []byte) error { got = p; return nil })
	if err != nil && !errors.Is(err, modbusx.ErrException) {
		t.Fatal(err)
	}
	if err != nil {
		var e *modbusx.Error
		errors.As(err, &e)
		return []byte{pdu[0] | exceptionFlag, e.Kind.(*modbusx.Exception).Code}
	}
	return got
}

// TestSimulatorRegisterMap checks the simulator's map with the plain
// client: the exceptions are the controller's (ABL §1.4, §2).
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{IDs: []uint8{1, 2}, UpstreamTimeout: time.Hour})
	pool := testPool(t)
	cl, err := pool.Client(s.Addr(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, r := range []struct {
		addr, n uint16
		want    error
		top     uint16
	}{
		{regIdentity, 2, nil, 0x01},
		{0x0003, 1, nil, 0x03},
		{regStatus, 1, nil, 0x04},
		{regSysFlags, 2, nil, 0x06},
		{regReport, 5, nil, 0x2E},
		{regReport, 1, nil, 0x2E},
		{regSerial, 8, nil, 0x50},
		{regReport, 6, modbusx.ErrIllegalAddress, 0},
		{regReport + 1, 1, modbusx.ErrIllegalAddress, 0},
		{0x0000, 1, modbusx.ErrIllegalAddress, 0},
		{regIcmax, 1, modbusx.ErrIllegalAddress, 0},
		{0x0033, 3, modbusx.ErrIllegalAddress, 0},
		{0x1000, 1, modbusx.ErrIllegalAddress, 0},
	} {
		regs, err := cl.Read(ctx, r.addr, r.n)
		if r.want == nil && (err != nil || regs[0]>>8 != r.top) || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %#04x×%d: %04X, err = %v, want %v", r.addr, r.n, regs, err, r.want)
		}
	}
	if regs, _ := cl.Read(ctx, regIdentity, 2); regs[1]&(flagMeter|flagUpstreamTimeout) != flagMeter|flagUpstreamTimeout {
		t.Errorf("flags %04X", regs[1])
	}
	for _, w := range []struct {
		addr, v uint16
		want    error
	}{
		{regIcmax, icmaxMin, nil},
		{regIcmax, noCurrent, nil},
		{regIcmax, icmaxMin - 1, modbusx.ErrIllegalValue},
		{regIcmax, noCurrent + 1, modbusx.ErrIllegalValue},
		{regModify, 0x1234, modbusx.ErrIllegalValue},
		{regSetup, timeoutOff | 1, modbusx.ErrIllegalValue}, // only in E2
		{regModify, modifyE2, nil},
		{regSetup, timeoutOff | 2, modbusx.ErrIllegalValue}, // another id
		{regSetup, timeoutOff | 1, nil},
		{regModify, modifyImbalance, nil},
		{regModify, modifyReset, nil},
		{regReport, 0xA1, modbusx.ErrIllegalAddress},
		{0x0100, 1, modbusx.ErrIllegalAddress},
	} {
		if err := cl.Write(ctx, w.addr, w.v); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %#04x = %#04x: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if err := cl.Write(ctx, regIcmax, 100, 100); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("two registers at Icmax: %v", err)
	}
	if regs, _ := cl.Read(ctx, regIdentity, 2); regs[1]&flagUpstreamTimeout != 0 {
		t.Errorf("upstream timeout still on: %04X", regs[1])
	}
	if sn := s.Snapshot(); sn.Boxes[1].Icmax != units(16) || sn.Boxes[2].Icmax != units(16) || sn.Boxes[1].State != 0xA1 {
		t.Errorf("after the reset: %+v", sn.Boxes)
	}
	// Functions other than 0x03 and 0x10: illegal function.
	for _, pdu := range [][]byte{{0x06, 0, 0x14, 0, 100}, {0x04, 0, 0x2E, 0, 5}, {0x01, 0, 0, 0, 1}} {
		if got := rawFC(t, s.Addr(), pdu); len(got) != 2 || got[0] != pdu[0]|exceptionFlag || got[1] != 1 {
			t.Errorf("function %#02x: %X", pdu[0], got)
		}
	}
}

// TestSimulatorBroadcast: a write to id 0 reaches every controller and
// gets no answer.
func TestSimulatorBroadcast(t *testing.T) {
	s := startSim(t, SimConfig{IDs: []uint8{1, 2}})
	cl, err := testPool(t).Client(s.Addr(), 0, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Write(context.Background(), regIcmax, noCurrent); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("broadcast answered: %v", err)
	}
	modbustest.WaitFor(t, "both disabled", func() bool {
		sn := s.Snapshot()
		return sn.Boxes[1].Icmax == noCurrent && sn.Boxes[2].Icmax == noCurrent
	})
}
