package modbusx

import (
	"context"
	"time"

	"github.com/simonvetter/modbus"
)

// link is one open connection speaking one framing. The pool's conn
// owns it and calls it from one goroutine at a time. Errors are in the
// library's vocabulary (modbus.Error values, net errors), so classify
// treats every framing alike.
type link interface {
	setUnit(id uint8) error
	readRegisters(ctx context.Context, t Table, addr, count uint16) ([]uint16, error)
	writeRegister(ctx context.Context, addr, value uint16) error
	writeRegisters(ctx context.Context, addr uint16, values []uint16) error
	readCoils(ctx context.Context, addr, count uint16) ([]bool, error)
	writeCoil(ctx context.Context, addr uint16, on bool) error
	close() error
}

// openLink connects to addr in framing f; key is the library URL.
// timeout bounds the dial and every request on the link.
func (p *Pool) openLink(ctx context.Context, f Framing, key, addr string, timeout time.Duration) (link, error) {
	if f == ASCIIOverTCP {
		return dialASCII(ctx, addr, timeout)
	}
	mc, err := modbus.NewClient(&modbus.ClientConfiguration{URL: key, Timeout: timeout, Logger: p.libLog})
	if err == nil {
		err = mc.Open()
	}
	if err != nil {
		return nil, err
	}
	return libLink{mc}, nil
}

// libLink is the library's client (Modbus TCP, RTU over TCP). It has no
// context: a request runs until it is answered or the library's own
// timeout ends it.
type libLink struct{ mc *modbus.ModbusClient }

func (l libLink) setUnit(id uint8) error { return l.mc.SetUnitId(id) }

func (l libLink) readRegisters(_ context.Context, t Table, addr, count uint16) ([]uint16, error) {
	rt := modbus.HOLDING_REGISTER
	if t == Input {
		rt = modbus.INPUT_REGISTER
	}
	return l.mc.ReadRegisters(addr, count, rt)
}

func (l libLink) writeRegister(_ context.Context, addr, value uint16) error {
	return l.mc.WriteRegister(addr, value)
}

func (l libLink) writeRegisters(_ context.Context, addr uint16, values []uint16) error {
	return l.mc.WriteRegisters(addr, values)
}

func (l libLink) readCoils(_ context.Context, addr, count uint16) ([]bool, error) {
	return l.mc.ReadCoils(addr, count)
}

func (l libLink) writeCoil(_ context.Context, addr uint16, on bool) error {
	return l.mc.WriteCoil(addr, on)
}

func (l libLink) close() error { return l.mc.Close() }
