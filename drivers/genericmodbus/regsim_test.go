package genericmodbus

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/simonvetter/modbus"
)

// regSim is a Modbus TCP device made of a register map per unit and
// table: unset registers are illegal addresses, dead units answer
// "gateway target failed to respond".
type regSim struct {
	mu    sync.Mutex
	regs  map[regKey]uint16
	dead  map[uint8]bool
	reads int
	srv   *modbus.ModbusServer
	addr  string
}

type regKey struct {
	unit  uint8
	input bool
	addr  uint16
}

func startRegSim(t testing.TB) *regSim {
	t.Helper()
	s := &regSim{regs: map[regKey]uint16{}, dead: map[uint8]bool{}}
	for try := 0; ; try++ {
		addr := freeAddr(t)
		srv, err := modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + addr, MaxClients: 10}, s)
		if err == nil {
			if err = srv.Start(); err == nil {
				s.srv, s.addr = srv, addr
				break
			}
		}
		if try == 5 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { s.srv.Stop() })
	return s
}

func (s *regSim) set(unit uint8, input bool, addr uint16, regs ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range regs {
		s.regs[regKey{unit, input, addr + uint16(i)}] = r
	}
}

func (s *regSim) get(unit uint8, addr uint16) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regs[regKey{unit, false, addr}]
}

func (s *regSim) f32(unit uint8, addr uint16, v float64) {
	s.set(unit, false, addr, modbusx.EncodeFloat32(v, modbusx.HighWordFirst)...)
}

func (s *regSim) kill(unit uint8) { s.mu.Lock(); s.dead[unit] = true; s.mu.Unlock() }

func (s *regSim) access(unit uint8, input bool, addr, n uint16, args []uint16) ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead[unit] {
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	out := make([]uint16, 0, n)
	for i := uint16(0); i < n; i++ {
		k := regKey{unit, input, addr + i}
		v, ok := s.regs[k]
		if !ok {
			return nil, modbus.ErrIllegalDataAddress
		}
		if args != nil {
			s.regs[k] = args[i]
		}
		out = append(out, v)
	}
	if args == nil {
		s.reads++
	}
	return out, nil
}

func (s *regSim) HandleHoldingRegisters(r *modbus.HoldingRegistersRequest) ([]uint16, error) {
	var args []uint16
	if r.IsWrite {
		args = r.Args
	}
	return s.access(r.UnitId, false, r.Addr, r.Quantity, args)
}

func (s *regSim) HandleInputRegisters(r *modbus.InputRegistersRequest) ([]uint16, error) {
	return s.access(r.UnitId, true, r.Addr, r.Quantity, nil)
}

func (s *regSim) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (s *regSim) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

// poll polls c and fails on error.
func poll(t testing.TB, c *Charger) charger.State {
	t.Helper()
	st, err := c.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
