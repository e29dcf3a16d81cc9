package genericmodbus

import (
	"fmt"
	"slices"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// The enumerations of a definition decode from their YAML names, so a
// misspelt name is reported by the config loader at its line.

// enum decodes text into one of names, which map to values.
func enum[T any](what, text string, names []string, values []T) (T, error) {
	if i := slices.Index(names, text); i >= 0 {
		return values[i], nil
	}
	var zero T
	return zero, fmt.Errorf("unknown %s %q (want one of %s)", what, text, strings.Join(names, ", "))
}

// Table is a register table: holding (FC3, the default) or input (FC4).
type Table modbusx.Table

// UnmarshalText decodes holding or input.
func (t *Table) UnmarshalText(b []byte) error {
	v, err := enum("table", string(b), []string{"holding", "input"}, []Table{Table(modbusx.Holding), Table(modbusx.Input)})
	*t = v
	return err
}

// Type is a register's data type.
type Type modbusx.Type

var typeNames = []string{"u16", "s16", "u32", "s32", "u64", "s64", "float32", "float64", "string"}
var typeValues = []Type{Type(modbusx.Uint16), Type(modbusx.Int16), Type(modbusx.Uint32), Type(modbusx.Int32),
	Type(modbusx.Uint64), Type(modbusx.Int64), Type(modbusx.Float32), Type(modbusx.Float64), Type(modbusx.String)}

// UnmarshalText decodes u16, s16, u32, s32, u64, s64, float32, float64
// or string.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := enum("type", string(b), typeNames, typeValues)
	*t = v
	return err
}

func (t Type) String() string { return modbusx.Type(t).String() }

func (t Type) integer() bool {
	switch modbusx.Type(t) {
	case modbusx.Uint16, modbusx.Int16, modbusx.Uint32, modbusx.Int32, modbusx.Uint64, modbusx.Int64:
		return true
	}
	return false
}

func (t Type) signed() bool {
	switch modbusx.Type(t) {
	case modbusx.Int16, modbusx.Int32, modbusx.Int64:
		return true
	}
	return false
}

func (t Type) float() bool { return t == Type(modbusx.Float32) || t == Type(modbusx.Float64) }

// Order is the word order of a 32/64-bit value, or the byte order of the
// characters of a string: high_first (the Modbus convention, default) or
// low_first.
type Order uint8

// UnmarshalText decodes high_first or low_first.
func (o *Order) UnmarshalText(b []byte) error {
	v, err := enum("order", string(b), []string{"high_first", "low_first"}, []Order{0, 1})
	*o = v
	return err
}

// Framing is tcp (Modbus TCP, default) or rtu_over_tcp (RTU frames through
// a transparent RS485 gateway).
type Framing modbusx.Framing

// UnmarshalText decodes tcp or rtu_over_tcp.
func (f *Framing) UnmarshalText(b []byte) error {
	v, err := enum("framing", string(b), []string{"tcp", "rtu_over_tcp"}, []Framing{Framing(modbusx.TCP), Framing(modbusx.RTUOverTCP)})
	*f = v
	return err
}

// EnableMode is how a charger is enabled and disabled.
type EnableMode uint8

// Enable modes: write on/off values to a register, or write 0 A to the
// current register to disable and the last current to enable.
const (
	EnableNone EnableMode = iota
	EnableRegister
	EnableCurrentZero
)

// UnmarshalText decodes register or current_zero.
func (m *EnableMode) UnmarshalText(b []byte) error {
	v, err := enum("enable mode", string(b), []string{"register", "current_zero"}, []EnableMode{EnableRegister, EnableCurrentZero})
	*m = v
	return err
}

// WatchdogMode is how the watchdog is kept alive.
type WatchdogMode uint8

// Watchdog modes: rewrite the current setpoint, or write a fixed value to
// a keep-alive register.
const (
	WatchdogNone WatchdogMode = iota
	WatchdogRewrite
	WatchdogWrite
)

// UnmarshalText decodes rewrite_setpoint or write_value.
func (m *WatchdogMode) UnmarshalText(b []byte) error {
	v, err := enum("watchdog mode", string(b), []string{"rewrite_setpoint", "write_value"}, []WatchdogMode{WatchdogRewrite, WatchdogWrite})
	*m = v
	return err
}

// IEC is an IEC 61851-1 pilot state, A to F.
type IEC charger.IECState

// UnmarshalText decodes A, B, C, D, E or F.
func (s *IEC) UnmarshalText(b []byte) error {
	names := []string{"A", "B", "C", "D", "E", "F"}
	v, err := enum("IEC 61851 state", strings.ToUpper(string(b)), names,
		[]IEC{IEC(charger.IECA), IEC(charger.IECB), IEC(charger.IECC), IEC(charger.IECD), IEC(charger.IECE), IEC(charger.IECF)})
	*s = v
	return err
}

// Status is a user-facing status, one of charger.Statuses.
type Status charger.Status

// UnmarshalText decodes a charger.Status name such as paused.
func (s *Status) UnmarshalText(b []byte) error {
	names := make([]string, len(charger.Statuses))
	values := make([]Status, len(charger.Statuses))
	for i, st := range charger.Statuses {
		names[i], values[i] = string(st), Status(st)
	}
	v, err := enum("status", string(b), names, values)
	*s = v
	return err
}
