package modbusx

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestDecodeIntegers(t *testing.T) {
	tests := []struct {
		name string
		regs []uint16
		o    WordOrder
		u32  uint32
		s32  int32
	}{
		{"zero", []uint16{0, 0}, HighWordFirst, 0, 0},
		{"high first", []uint16{0x0001, 0x0002}, HighWordFirst, 0x00010002, 0x00010002},
		{"low first", []uint16{0x0001, 0x0002}, LowWordFirst, 0x00020001, 0x00020001},
		{"max", []uint16{0xffff, 0xffff}, HighWordFirst, math.MaxUint32, -1},
		{"min s32", []uint16{0x8000, 0x0000}, HighWordFirst, 0x80000000, math.MinInt32},
		{"min s32 low first", []uint16{0x0000, 0x8000}, LowWordFirst, 0x80000000, math.MinInt32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := DecodeUint32(tc.regs, tc.o)
			if err != nil || u != tc.u32 {
				t.Errorf("u32 = %#x, %v; want %#x", u, err, tc.u32)
			}
			s, err := DecodeInt32(tc.regs, tc.o)
			if err != nil || s != tc.s32 {
				t.Errorf("s32 = %d, %v; want %d", s, err, tc.s32)
			}
			if back := EncodeUint32(tc.u32, tc.o); !slices.Equal(back, tc.regs) {
				t.Errorf("encode = %#x, want %#x", back, tc.regs)
			}
		})
	}
	if v, _ := DecodeInt16([]uint16{0xffff}); v != -1 {
		t.Errorf("s16 0xffff = %d", v)
	}
	if v, _ := DecodeInt16([]uint16{0x8000}); v != math.MinInt16 {
		t.Errorf("s16 0x8000 = %d", v)
	}
	r := []uint16{0x0102, 0x0304, 0x0506, 0x0708}
	if v, _ := DecodeUint64(r, HighWordFirst); v != 0x0102030405060708 {
		t.Errorf("u64 high first = %#x", v)
	}
	if v, _ := DecodeUint64(r, LowWordFirst); v != 0x0708050603040102 {
		t.Errorf("u64 low first = %#x", v)
	}
	if v, _ := DecodeInt64([]uint16{0xffff, 0xffff, 0xffff, 0xfffe}, HighWordFirst); v != -2 {
		t.Errorf("s64 = %d", v)
	}
	if back := EncodeUint64(0x0708050603040102, LowWordFirst); !slices.Equal(back, r) {
		t.Errorf("encode u64 = %#x", back)
	}
}

func TestDecodeWordCount(t *testing.T) {
	checks := []error{
		func() error { _, err := DecodeUint16(nil); return err }(),
		func() error { _, err := DecodeUint16([]uint16{1, 2}); return err }(),
		func() error { _, err := DecodeUint32([]uint16{1}, HighWordFirst); return err }(),
		func() error { _, err := DecodeInt32([]uint16{1, 2, 3}, HighWordFirst); return err }(),
		func() error { _, err := DecodeUint64([]uint16{1, 2}, HighWordFirst); return err }(),
		func() error { _, err := DecodeFloat32([]uint16{1}, HighWordFirst); return err }(),
		func() error { _, err := DecodeFloat64([]uint16{1, 2, 3}, LowWordFirst); return err }(),
	}
	for i, err := range checks {
		if !errors.Is(err, ErrWordCount) {
			t.Errorf("check %d: err = %v, want ErrWordCount", i, err)
		}
	}
}

func TestDecodeFloats(t *testing.T) {
	for _, o := range []WordOrder{HighWordFirst, LowWordFirst} {
		for _, v := range []float64{0, 1, -1, 230.5, 1e-30, math.MaxFloat32, -math.SmallestNonzeroFloat32} {
			got, err := DecodeFloat32(EncodeFloat32(v, o), o)
			if err != nil || got != float64(float32(v)) {
				t.Errorf("f32 order %d: %v → %v, %v", o, v, got, err)
			}
		}
		for _, v := range []float64{0, 123456789.125, -1e300, math.SmallestNonzeroFloat64} {
			got, err := DecodeFloat64(EncodeFloat64(v, o), o)
			if err != nil || got != v {
				t.Errorf("f64 order %d: %v → %v, %v", o, v, got, err)
			}
		}
	}
	// 230.0 = 0x43660000: the orders must differ on the wire.
	if r := EncodeFloat32(230, HighWordFirst); !slices.Equal(r, []uint16{0x4366, 0}) {
		t.Errorf("230 high first = %#x", r)
	}
	if r := EncodeFloat32(230, LowWordFirst); !slices.Equal(r, []uint16{0, 0x4366}) {
		t.Errorf("230 low first = %#x", r)
	}
	bad := []struct {
		regs []uint16
		want error
	}{
		{[]uint16{0xffff, 0xffff}, ErrNaN}, // what "unavailable" reads as
		{[]uint16{0x7fc0, 0}, ErrNaN},
		{[]uint16{0x7f80, 0}, ErrInf},
		{[]uint16{0xff80, 0}, ErrInf},
	}
	for _, b := range bad {
		if _, err := DecodeFloat32(b.regs, HighWordFirst); !errors.Is(err, b.want) {
			t.Errorf("%#x: err = %v, want %v", b.regs, err, b.want)
		}
	}
	if _, err := DecodeFloat64([]uint16{0xffff, 0xffff, 0xffff, 0xffff}, HighWordFirst); !errors.Is(err, ErrNaN) {
		t.Errorf("f64 NaN: %v", err)
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct {
		name string
		regs []uint16
		o    ByteOrder
		want string
	}{
		{"plain", EncodeString("Alfen NV", 5, HighByteFirst), HighByteFirst, "Alfen NV"},
		{"odd length", EncodeString("NG910", 17, HighByteFirst), HighByteFirst, "NG910"},
		{"swapped", EncodeString("ACE0287582", 11, LowByteFirst), LowByteFirst, "ACE0287582"},
		{"swapped read plain", EncodeString("ABCD", 2, LowByteFirst), HighByteFirst, "BADC"},
		{"space padded", EncodeString("  B2   ", 5, HighByteFirst), HighByteFirst, "B2"},
		{"stops at NUL", []uint16{0x4100, 0x4242}, HighByteFirst, "A"},
		{"all NaN", []uint16{0xffff, 0xffff}, HighByteFirst, "????"},
		{"control chars", []uint16{0x4107}, HighByteFirst, "A?"},
		{"empty", nil, HighByteFirst, ""},
		{"cut", EncodeString("toolongvalue", 2, HighByteFirst), HighByteFirst, "tool"},
	}
	for _, tc := range tests {
		if got := DecodeString(tc.regs, tc.o); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBlockGetters(t *testing.T) {
	b := NewBlock()
	b.Put(Holding, 100, append(append(EncodeFloat32(230.25, HighWordFirst), 0xfffe, 0x0102),
		EncodeUint32(123456, LowWordFirst)...))
	b.Put(Input, 100, []uint16{7})
	b.Put(Holding, 200, append(EncodeString("B2", 5, HighByteFirst), EncodeUint64(math.MaxUint64, HighWordFirst)...))

	if v, err := b.Float(At(100, Float32)); err != nil || v != 230.25 {
		t.Errorf("float32 = %v, %v", v, err)
	}
	if v, err := b.Float(At(102, Int16).Scaled(-1, 0)); err != nil || v != -0.2 {
		t.Errorf("s16 ×0.1 = %v, %v", v, err)
	}
	if v, err := b.Float(At(103, Uint16).Scaled(0, 0.5)); err != nil || v != 129 {
		t.Errorf("u16 ×0.5 = %v, %v", v, err)
	}
	if v, err := b.Float(At(104, Uint32).LowFirst().Scaled(1, 2)); err != nil || v != 2469120 {
		t.Errorf("u32 low first ×20 = %v, %v", v, err)
	}
	if v, err := b.Int(At(102, Int16)); err != nil || v != -2 {
		t.Errorf("int = %v, %v", v, err)
	}
	if v, err := b.Uint(At(100, Uint16).In(Input)); err != nil || v != 7 {
		t.Errorf("input u16 = %v, %v", v, err)
	}
	if _, err := b.Uint(At(102, Int16)); !errors.Is(err, ErrRange) {
		t.Errorf("negative as uint: %v", err)
	}
	if _, err := b.Int(At(205, Uint64)); !errors.Is(err, ErrRange) {
		t.Errorf("u64 max as int: %v", err)
	}
	if v, err := b.Uint(At(205, Uint64)); err != nil || v != math.MaxUint64 {
		t.Errorf("u64 = %v, %v", v, err)
	}
	if s, err := b.String(Text(200, 5)); err != nil || s != "B2" {
		t.Errorf("string = %q, %v", s, err)
	}
	notRead := []Value{At(99, Uint16), At(107, Uint32), At(101, Uint16).In(Input), Text(200, 10)}
	for _, v := range notRead {
		if _, err := b.Float(v); !errors.Is(err, ErrNotRead) {
			t.Errorf("%v: err = %v, want ErrNotRead", v, err)
		}
	}
	if _, err := b.String(At(100, Float32)); !errors.Is(err, ErrType) {
		t.Errorf("string of float: %v", err)
	}
	if _, err := b.Float(Text(200, 2)); !errors.Is(err, ErrType) {
		t.Errorf("float of string: %v", err)
	}
	if _, err := b.Float(At(100, Type(99))); !errors.Is(err, ErrType) {
		t.Errorf("bad type: %v", err)
	}
}
