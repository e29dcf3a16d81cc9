package modbusx

import "context"

// MaxCoils is the most coils one FC1 request may read (Modbus spec).
const MaxCoils = 2000

// ReadCoils reads count coils from addr (FC1) on the shared connection.
func (cl *Client) ReadCoils(ctx context.Context, addr, count uint16) ([]bool, error) {
	if count == 0 || count > MaxCoils || int(addr)+int(count) > 0x10000 {
		return nil, &Error{Endpoint: cl.ep.Address, Unit: cl.ep.Unit, Op: "read coils", Addr: addr, Count: count, Kind: ErrBadRequest}
	}
	var out []bool
	err := cl.do(ctx, "read coils", addr, count, true, func(ctx context.Context, l link) error {
		var err error
		out, err = l.readCoils(ctx, addr, count)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteCoil writes one coil (FC5).
func (cl *Client) WriteCoil(ctx context.Context, addr uint16, on bool) error {
	return cl.do(ctx, "write coil", addr, 1, false, func(ctx context.Context, l link) error {
		return l.writeCoil(ctx, addr, on)
	})
}
