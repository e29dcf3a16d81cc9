package modbusx

import (
	"math"
	"strings"
)

// WordOrder is the order of the 16-bit registers of a 32- or 64-bit value.
type WordOrder uint8

// Word orders. The Modbus convention (and the zero value) is
// HighWordFirst; some devices send the least significant word first.
const (
	HighWordFirst WordOrder = iota
	LowWordFirst
)

// ByteOrder is the order of the two characters of a string register.
type ByteOrder uint8

// Byte orders of string registers; HighByteFirst is the common one.
const (
	HighByteFirst ByteOrder = iota
	LowByteFirst
)

// Type is the data type of a value in registers.
type Type uint8

// Value types. Every numeric type is big-endian within a register, as the
// Modbus protocol is; the word order is set per value.
const (
	Uint16 Type = iota + 1
	Int16
	Uint32
	Int32
	Uint64
	Int64
	Float32
	Float64
	String
)

func (t Type) String() string {
	switch t {
	case Uint16:
		return "u16"
	case Int16:
		return "s16"
	case Uint32:
		return "u32"
	case Int32:
		return "s32"
	case Uint64:
		return "u64"
	case Int64:
		return "s64"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case String:
		return "string"
	}
	return "invalid"
}

// Words is the number of registers a numeric type spans (0 for String
// and invalid types).
func (t Type) Words() uint16 {
	switch t {
	case Uint16, Int16:
		return 1
	case Uint32, Int32, Float32:
		return 2
	case Uint64, Int64, Float64:
		return 4
	}
	return 0
}

// ordered returns the bits of 2 or 4 registers, most significant first.
func ordered(r []uint16, o WordOrder) uint64 {
	var v uint64
	for i := range r {
		w := r[i]
		if o == LowWordFirst {
			w = r[len(r)-1-i]
		}
		v = v<<16 | uint64(w)
	}
	return v
}

func want(r []uint16, n int) error {
	if len(r) != n {
		return ErrWordCount
	}
	return nil
}

// DecodeUint16 decodes one register.
func DecodeUint16(r []uint16) (uint16, error) {
	if err := want(r, 1); err != nil {
		return 0, err
	}
	return r[0], nil
}

// DecodeInt16 decodes one register as two's complement.
func DecodeInt16(r []uint16) (int16, error) {
	v, err := DecodeUint16(r)
	return int16(v), err
}

// DecodeUint32 decodes two registers.
func DecodeUint32(r []uint16, o WordOrder) (uint32, error) {
	if err := want(r, 2); err != nil {
		return 0, err
	}
	return uint32(ordered(r, o)), nil
}

// DecodeInt32 decodes two registers as two's complement.
func DecodeInt32(r []uint16, o WordOrder) (int32, error) {
	v, err := DecodeUint32(r, o)
	return int32(v), err
}

// DecodeUint64 decodes four registers.
func DecodeUint64(r []uint16, o WordOrder) (uint64, error) {
	if err := want(r, 4); err != nil {
		return 0, err
	}
	return ordered(r, o), nil
}

// DecodeInt64 decodes four registers as two's complement.
func DecodeInt64(r []uint16, o WordOrder) (int64, error) {
	v, err := DecodeUint64(r, o)
	return int64(v), err
}

func finite(f float64) (float64, error) {
	switch {
	case math.IsNaN(f):
		return 0, ErrNaN
	case math.IsInf(f, 0):
		return 0, ErrInf
	}
	return f, nil
}

// DecodeFloat32 decodes an IEEE 754 single from two registers; NaN and
// ±Inf are errors (ErrNaN, ErrInf).
func DecodeFloat32(r []uint16, o WordOrder) (float64, error) {
	v, err := DecodeUint32(r, o)
	if err != nil {
		return 0, err
	}
	return finite(float64(math.Float32frombits(v)))
}

// DecodeFloat64 decodes an IEEE 754 double from four registers.
func DecodeFloat64(r []uint16, o WordOrder) (float64, error) {
	v, err := DecodeUint64(r, o)
	if err != nil {
		return 0, err
	}
	return finite(math.Float64frombits(v))
}

// DecodeString decodes ASCII text, two characters a register. It stops at
// the first NUL and trims spaces at both ends; bytes outside printable
// ASCII become '?', so a device's garbage never reaches a topic verbatim.
func DecodeString(r []uint16, o ByteOrder) string {
	b := make([]byte, 0, 2*len(r))
	for _, w := range r {
		hi, lo := byte(w>>8), byte(w)
		if o == LowByteFirst {
			hi, lo = lo, hi
		}
		b = append(b, hi, lo)
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return strings.TrimSpace(string(b))
}

// Scale returns v × 10^exp × mul (mul 0 counts as 1): the two ways
// register maps state scaling (SunSpec-style exponents, fixed factors).
func Scale(v float64, exp int, mul float64) float64 {
	if exp != 0 {
		v *= math.Pow10(exp)
	}
	if mul != 0 {
		v *= mul
	}
	return v
}

func split(v uint64, n int, o WordOrder) []uint16 {
	r := make([]uint16, n)
	for i := n - 1; i >= 0; i-- {
		r[i] = uint16(v)
		v >>= 16
	}
	if o == LowWordFirst {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
	}
	return r
}

// EncodeUint32 returns the two registers of v.
func EncodeUint32(v uint32, o WordOrder) []uint16 { return split(uint64(v), 2, o) }

// EncodeUint64 returns the four registers of v.
func EncodeUint64(v uint64, o WordOrder) []uint16 { return split(v, 4, o) }

// EncodeFloat32 returns the two registers of v as an IEEE 754 single.
func EncodeFloat32(v float64, o WordOrder) []uint16 {
	return split(uint64(math.Float32bits(float32(v))), 2, o)
}

// EncodeFloat64 returns the four registers of v as an IEEE 754 double.
func EncodeFloat64(v float64, o WordOrder) []uint16 {
	return split(math.Float64bits(v), 4, o)
}

// EncodeString returns s in words registers, NUL padded, cut if too long.
func EncodeString(s string, words int, o ByteOrder) []uint16 {
	r := make([]uint16, words)
	for i := 0; i < words; i++ {
		var hi, lo byte
		if 2*i < len(s) {
			hi = s[2*i]
		}
		if 2*i+1 < len(s) {
			lo = s[2*i+1]
		}
		if o == LowByteFirst {
			hi, lo = lo, hi
		}
		r[i] = uint16(hi)<<8 | uint16(lo)
	}
	return r
}
