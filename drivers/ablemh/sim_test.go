package ablemh

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// simClient is a plain modbusx client for device id unit of the
// simulator, Modbus ASCII framing.
func simClient(t *testing.T, addr string, unit uint8, timeout time.Duration) *modbusx.Client {
	t.Helper()
	cl, err := testPool(t).Client(modbusx.Endpoint{Address: addr, Framing: modbusx.ASCIIOverTCP, Unit: unit, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// TestSimulatorRegisterMap checks the simulator's map with the plain
// client: the exceptions are the controller's (ABL §1.4, §2).
func TestSimulatorRegisterMap(t *testing.T) {
	s := startSim(t, SimConfig{IDs: []uint8{1, 2}, UpstreamTimeout: time.Hour})
	cl := simClient(t, s.Addr(), 1, 3*time.Second)
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
		regs, err := cl.Read(ctx, modbusx.Holding, r.addr, r.n)
		if r.want == nil && (err != nil || regs[0]>>8 != r.top) || r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("read %#04x×%d: %04X, err = %v, want %v", r.addr, r.n, regs, err, r.want)
		}
	}
	if regs, _ := cl.Read(ctx, modbusx.Holding, regIdentity, 2); regs[1]&(flagMeter|flagUpstreamTimeout) != flagMeter|flagUpstreamTimeout {
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
		if err := cl.Write(ctx, w.addr, []uint16{w.v}); w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("write %#04x = %#04x: err = %v, want %v", w.addr, w.v, err, w.want)
		}
	}
	if err := cl.Write(ctx, regIcmax, []uint16{100, 100}); !errors.Is(err, modbusx.ErrIllegalAddress) {
		t.Errorf("two registers at Icmax: %v", err)
	}
	if regs, _ := cl.Read(ctx, modbusx.Holding, regIdentity, 2); regs[1]&flagUpstreamTimeout != 0 {
		t.Errorf("upstream timeout still on: %04X", regs[1])
	}
	if sn := s.Snapshot(); sn.Boxes[1].Icmax != units(16) || sn.Boxes[2].Icmax != units(16) || sn.Boxes[1].State != 0xA1 {
		t.Errorf("after the reset: %+v", sn.Boxes)
	}
	// Functions other than 0x03 and 0x10: illegal function.
	if err := cl.WriteSingle(ctx, regIcmax, 100); !errors.Is(err, modbusx.ErrIllegalFunction) {
		t.Errorf("function 06: %v", err)
	}
	if _, err := cl.Read(ctx, modbusx.Input, regReport, 5); !errors.Is(err, modbusx.ErrIllegalFunction) {
		t.Errorf("function 04: %v", err)
	}
	if _, err := cl.ReadCoils(ctx, 0, 1); !errors.Is(err, modbusx.ErrIllegalFunction) {
		t.Errorf("function 01: %v", err)
	}
}

// TestSimulatorBroadcast: a write to id 0 reaches every controller and
// gets no answer.
func TestSimulatorBroadcast(t *testing.T) {
	s := startSim(t, SimConfig{IDs: []uint8{1, 2}})
	cl := simClient(t, s.Addr(), 0, 200*time.Millisecond)
	if err := cl.Write(context.Background(), regIcmax, []uint16{noCurrent}); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("broadcast answered: %v", err)
	}
	modbustest.WaitFor(t, "both disabled", func() bool {
		sn := s.Snapshot()
		return sn.Boxes[1].Icmax == noCurrent && sn.Boxes[2].Icmax == noCurrent
	})
}
