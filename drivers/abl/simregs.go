package abl

import (
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server: holding registers only (FC3, FC6,
// FC16); coils, discrete inputs and input registers are illegal functions.
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	s := h.s
	if err := s.Admit(req.ClientAddr, req.IsWrite); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	s.heard = now
	if req.UnitId != unitDefault {
		return nil, modbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		return nil, s.write(req.Addr, req.Args)
	}
	return s.read(req.Addr, req.Quantity)
}

// connector finds the connector and connector-1 address of addr.
func (s *Simulator) connector(addr uint16) (*simConnector, uint16) {
	i := int(addr-regCurrentL1+1) / connectorStride
	if addr < regCurrentL1-1 || i >= len(s.conns) {
		return nil, 0
	}
	return s.conns[i], addr - uint16(i)*connectorStride
}

// read answers FC3 inside one connector's documented blocks.
func (s *Simulator) read(addr, n uint16) ([]uint16, error) {
	c, base := s.connector(addr)
	if c == nil {
		return nil, modbus.ErrIllegalDataAddress
	}
	regs := c.registers()
	out := make([]uint16, n)
	for i := range out {
		v, ok := regs[base+uint16(i)]
		if !ok {
			return nil, modbus.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

// write accepts only 0x3032 (+0x100 for connector 2): 0, or 6 A up to
// the rating, in 0.1 A; it ends an F4.
func (s *Simulator) write(addr uint16, args []uint16) error {
	c, base := s.connector(addr)
	if c == nil || base != regMaxCurrent || len(args) != 1 {
		return modbus.ErrIllegalDataAddress
	}
	v := args[0]
	if v != 0 && (v < 60 || float64(v) > s.cfg.MaxCurrent*10) {
		return modbus.ErrIllegalDataValue
	}
	c.setpoint, c.timedOut = v, false
	s.update(time.Now())
	return nil
}
