package genericmodbus

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// field is a compiled Register: where it is and how to decode it.
type field struct {
	path string
	unit uint8
	v    modbusx.Value
	// na holds the keys (see key) of the raw values meaning unavailable.
	na map[string]bool
}

func (f *field) typ() Type { return Type(f.v.Type) }

func (f *field) span() modbusx.Span { return f.v.Span() }

// key returns the raw value as a canonical string: decimal for
// integers, shortest 'g' form for floats, trimmed text for strings.
func (f *field) key(b *modbusx.Block) (string, error) {
	if b == nil {
		return "", modbusx.ErrNotRead
	}
	switch t := f.typ(); {
	case t == Type(modbusx.String):
		return b.String(f.v)
	case t.signed():
		i, err := b.Int(f.v)
		return strconv.FormatInt(i, 10), err
	case t.integer():
		u, err := b.Uint(f.v)
		return strconv.FormatUint(u, 10), err
	}
	v := f.v
	v.Exp, v.Mul = 0, 0
	x, err := b.Float(v)
	return strconv.FormatFloat(x, 'g', -1, 64), err
}

// available reports whether the value is readable and not one of the
// unavailable markers.
func (f *field) available(b *modbusx.Block) bool {
	k, err := f.key(b)
	return err == nil && !f.na[k]
}

// float returns the scaled value; ok is false when it is unavailable.
func (f *field) float(b *modbusx.Block) (float64, bool) {
	if f == nil || b == nil || f.typ() == Type(modbusx.String) || len(f.na) > 0 && !f.available(b) {
		return 0, false
	}
	x, err := b.Float(f.v)
	return x, err == nil
}

// text returns a string register, or a number formatted, for identity.
func (f *field) text(b *modbusx.Block) string {
	if f == nil || !f.available(b) {
		return ""
	}
	if f.typ() == Type(modbusx.String) {
		s, _ := b.String(f.v)
		return s
	}
	if f.typ().integer() && f.v.Exp == 0 && f.v.Mul == 0 {
		k, _ := f.key(b)
		return k
	}
	x, _ := b.Float(f.v)
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// canonical turns a value written in a definition into the key the
// register yields for it, or says why it cannot be one.
func canonical(t Type, words uint16, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case t == Type(modbusx.String):
		if len(s) > 2*int(words) {
			return "", fmt.Errorf("%q is longer than the %d characters the register holds", s, 2*words)
		}
		for _, c := range []byte(s) {
			if c < 0x20 || c > 0x7e {
				return "", fmt.Errorf("%q has characters other than printable ASCII", s)
			}
		}
		return s, nil
	case t.integer():
		bits := 16 * int(t.words())
		if t.signed() {
			i, err := strconv.ParseInt(s, 0, bits)
			if err != nil {
				return "", fmt.Errorf("%q is not a whole number that fits %s", s, t)
			}
			return strconv.FormatInt(i, 10), nil
		}
		u, err := strconv.ParseUint(s, 0, bits)
		if err != nil {
			return "", fmt.Errorf("%q is not a whole number that fits %s", s, t)
		}
		return strconv.FormatUint(u, 10), nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return "", fmt.Errorf("%q is not a finite number", s)
	}
	if t == Type(modbusx.Float32) {
		x = float64(float32(x))
	}
	return strconv.FormatFloat(x, 'g', -1, 64), nil
}

func (t Type) words() uint16 { return modbusx.Type(t).Words() }

// encode returns the registers of x (in the definition's unit, so it is
// divided by the register's scale), rounding integers.
func encode(v modbusx.Value, x float64) ([]uint16, error) {
	x /= modbusx.Scale(1, v.Exp, v.Mul)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("%v is not a finite number", x)
	}
	t := Type(v.Type)
	if t.float() {
		if t == Type(modbusx.Float32) {
			if math.Abs(x) > math.MaxFloat32 {
				return nil, fmt.Errorf("%v does not fit float32", x)
			}
			return modbusx.EncodeFloat32(x, v.Order), nil
		}
		return modbusx.EncodeFloat64(x, v.Order), nil
	}
	if !t.integer() {
		return nil, fmt.Errorf("a %s register cannot be written with a number", t)
	}
	r := math.Round(x)
	bits := 16 * int(t.words())
	lo, hi := 0.0, math.Ldexp(1, bits) // [lo, hi)
	if t.signed() {
		lo, hi = -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
	}
	if r < lo || r >= hi {
		return nil, fmt.Errorf("%v is %v in the register, outside what %s holds", x*modbusx.Scale(1, v.Exp, v.Mul), r, t)
	}
	var u uint64
	if t.signed() {
		u = uint64(int64(r))
	} else {
		u = uint64(r)
	}
	switch bits {
	case 16:
		return []uint16{uint16(u)}, nil
	case 32:
		return modbusx.EncodeUint32(uint32(u), v.Order), nil
	}
	return modbusx.EncodeUint64(u, v.Order), nil
}
