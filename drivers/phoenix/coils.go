package phoenix

import (
	"context"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// coilIO reads (FC1) and writes (FC5) the coils of one unit: the
// controller's enable switch is a coil. modbusx.Client provides both on
// the connection shared with the registers.
type coilIO interface {
	ReadCoils(ctx context.Context, addr, count uint16) ([]bool, error)
	WriteCoil(ctx context.Context, addr uint16, on bool) error
}

// newCoils returns the coil access for cl's endpoint, and what to close.
func newCoils(cl *modbusx.Client) (coilIO, func() error) {
	return cl, func() error { return nil }
}
