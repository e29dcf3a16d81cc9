package modbussim

import (
	"context"

	"github.com/simonvetter/modbus"
)

// IllegalFunctions answers every function code with "illegal function",
// as a station does for the tables its manual does not list. A
// simulator's handler embeds it and overrides the tables it serves.
type IllegalFunctions struct{}

// HandleCoils refuses FC1, FC5 and FC15.
func (IllegalFunctions) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

// HandleDiscreteInputs refuses FC2.
func (IllegalFunctions) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

// HandleInputRegisters refuses FC4.
func (IllegalFunctions) HandleInputRegisters(*modbus.InputRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalFunction
}

// HandleHoldingRegisters refuses FC3, FC6 and FC16.
func (IllegalFunctions) HandleHoldingRegisters(*modbus.HoldingRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalFunction
}

// Standalone is what `evbridge sim <driver>` runs: a simulator that can
// be started, closed and have a car plugged in.
type Standalone interface {
	Start(ctx context.Context, addr string) error
	Addr() string
	Close() error
	Plug(plugged bool)
}

// Serve runs s for `evbridge sim`: it starts on addr with a car plugged
// in (a standalone simulator with nothing to charge shows little), calls
// ready with the bound address and serves until ctx ends.
func Serve(ctx context.Context, s Standalone, addr string, ready func(bound string)) error {
	if err := s.Start(ctx, addr); err != nil {
		return err
	}
	s.Plug(true)
	if ready != nil {
		ready(s.Addr())
	}
	<-ctx.Done()
	return s.Close()
}
