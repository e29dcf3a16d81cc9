package modbusx

import (
	"fmt"
	"math"
	"slices"
)

// Value locates and types one value in a device's register space; drivers
// list their registers as Values, plan reads from them and decode them
// from the Block a read returns.
type Value struct {
	Table Table
	Addr  uint16
	Type  Type
	// Len is the length of a String, in registers.
	Len   uint16
	Order WordOrder
	// Bytes is the character order within a String register.
	Bytes ByteOrder
	// Exp and Mul scale numbers: v × 10^Exp × Mul (Mul 0 counts as 1).
	Exp int
	Mul float64
}

// At returns a holding-register value of type t at addr, high word first.
func At(addr uint16, t Type) Value { return Value{Addr: addr, Type: t} }

// Text returns a holding-register string of words registers at addr.
func Text(addr, words uint16) Value { return Value{Addr: addr, Type: String, Len: words} }

// In returns v in table t.
func (v Value) In(t Table) Value { v.Table = t; return v }

// LowFirst returns v with the least significant word first.
func (v Value) LowFirst() Value { v.Order = LowWordFirst; return v }

// Swapped returns v (a String) with the low byte of each register first.
func (v Value) Swapped() Value { v.Bytes = LowByteFirst; return v }

// Scaled returns v scaled by 10^exp × mul.
func (v Value) Scaled(exp int, mul float64) Value { v.Exp, v.Mul = exp, mul; return v }

// Words is the number of registers v spans.
func (v Value) Words() uint16 {
	if v.Type == String {
		return v.Len
	}
	return v.Type.Words()
}

// Span is the registers v occupies.
func (v Value) Span() Span { return Span{Table: v.Table, Addr: v.Addr, Count: v.Words()} }

func (v Value) String() string { return fmt.Sprintf("%s %d %s", v.Table, v.Addr, v.Type) }

// Spans returns the spans of vs, for NewPlan.
func Spans(vs ...Value) []Span {
	out := make([]Span, len(vs))
	for i, v := range vs {
		out[i] = v.Span()
	}
	return out
}

// Block holds the registers one read of a Plan returned. Its getters
// decode by address; they never panic, whatever the registers hold.
type Block struct {
	segs []segment
}

type segment struct {
	Span
	regs []uint16
}

// NewBlock returns an empty block; Put fills it (tests, generic drivers).
func NewBlock() *Block { return &Block{} }

// Put stores regs read from table t at addr; later Puts win on overlap.
func (b *Block) Put(t Table, addr uint16, regs []uint16) {
	n := min(len(regs), 0x10000-int(addr))
	seg := segment{Span{t, addr, uint16(min(n, 0xffff))}, slices.Clone(regs[:n])}
	b.segs = append([]segment{seg}, b.segs...)
}

// Registers returns count registers of table t from addr, if one read
// covered them all.
func (b *Block) Registers(t Table, addr, count uint16) ([]uint16, error) {
	end := int(addr) + int(count)
	for _, s := range b.segs {
		if s.Table == t && s.Addr <= addr && end <= int(s.Addr)+len(s.regs) {
			off := int(addr - s.Addr)
			return s.regs[off : off+int(count)], nil
		}
	}
	return nil, ErrNotRead
}

// Raw returns the registers of v.
func (b *Block) Raw(v Value) ([]uint16, error) {
	if v.Words() == 0 {
		return nil, b.wrap(v, ErrType)
	}
	r, err := b.Registers(v.Table, v.Addr, v.Words())
	return r, b.wrap(v, err)
}

func (b *Block) wrap(v Value, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", v, err)
}

// Float returns a numeric value, scaled. NaN and ±Inf floats are errors
// (ErrNaN, ErrInf).
func (b *Block) Float(v Value) (float64, error) {
	r, err := b.Raw(v)
	if err != nil {
		return 0, err
	}
	var f float64
	switch v.Type {
	case Float32:
		f, err = DecodeFloat32(r, v.Order)
	case Float64:
		f, err = DecodeFloat64(r, v.Order)
	case Uint16, Uint32, Uint64:
		var u uint64
		u, err = decodeUint(r, v)
		f = float64(u)
	case Int16, Int32, Int64:
		var i int64
		i, err = decodeInt(r, v)
		f = float64(i)
	default:
		err = ErrType
	}
	if err != nil {
		return 0, b.wrap(v, err)
	}
	f, err = finite(Scale(f, v.Exp, v.Mul))
	return f, b.wrap(v, err)
}

// Int returns an integer value, unscaled; a Uint64 above MaxInt64 is
// ErrRange.
func (b *Block) Int(v Value) (int64, error) {
	r, err := b.Raw(v)
	if err != nil {
		return 0, err
	}
	switch v.Type {
	case Int16, Int32, Int64:
		i, err := decodeInt(r, v)
		return i, b.wrap(v, err)
	case Uint16, Uint32, Uint64:
		u, err := decodeUint(r, v)
		if err == nil && u > math.MaxInt64 {
			err = ErrRange
		}
		return int64(u), b.wrap(v, err)
	}
	return 0, b.wrap(v, ErrType)
}

// Uint returns an unsigned value, unscaled; a negative signed value is
// ErrRange.
func (b *Block) Uint(v Value) (uint64, error) {
	switch v.Type {
	case Int16, Int32, Int64:
		i, err := b.Int(v)
		if err == nil && i < 0 {
			err = b.wrap(v, ErrRange)
		}
		return uint64(max(i, 0)), err
	}
	r, err := b.Raw(v)
	if err != nil {
		return 0, err
	}
	u, err := decodeUint(r, v)
	return u, b.wrap(v, err)
}

// String returns a String value, NUL/space trimmed.
func (b *Block) String(v Value) (string, error) {
	if v.Type != String {
		return "", b.wrap(v, ErrType)
	}
	r, err := b.Raw(v)
	if err != nil {
		return "", err
	}
	return DecodeString(r, v.Bytes), nil
}

func decodeUint(r []uint16, v Value) (uint64, error) {
	switch v.Type {
	case Uint16:
		u, err := DecodeUint16(r)
		return uint64(u), err
	case Uint32:
		u, err := DecodeUint32(r, v.Order)
		return uint64(u), err
	case Uint64:
		return DecodeUint64(r, v.Order)
	}
	return 0, ErrType
}

func decodeInt(r []uint16, v Value) (int64, error) {
	switch v.Type {
	case Int16:
		i, err := DecodeInt16(r)
		return int64(i), err
	case Int32:
		i, err := DecodeInt32(r, v.Order)
		return int64(i), err
	case Int64:
		return DecodeInt64(r, v.Order)
	}
	return 0, ErrType
}
