package modbusx

import (
	"math"
	"testing"
)

// FuzzDecodeBlock feeds arbitrary register contents and value
// descriptions to every Block getter: none may panic, and a value that
// decodes must come back finite.
func FuzzDecodeBlock(f *testing.F) {
	f.Add([]byte{0x43, 0x66, 0, 0}, uint16(0), uint16(0), uint8(7), uint16(0), uint8(0), int8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(65534), uint16(65534), uint8(8), uint16(0), uint8(1), int8(3))
	f.Add([]byte("Alfen NV\x00\x00"), uint16(117), uint16(117), uint8(9), uint16(5), uint8(2), int8(-2))
	f.Fuzz(func(t *testing.T, data []byte, base, addr uint16, typ uint8, words uint16, flags uint8, exp int8) {
		regs := make([]uint16, len(data)/2)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		b := NewBlock()
		b.Put(Table(flags>>2&1), base, regs)
		v := Value{
			Table: Table(flags >> 3 & 1),
			Addr:  addr,
			Type:  Type(typ % 11),
			Len:   words,
			Order: WordOrder(flags & 1),
			Bytes: ByteOrder(flags >> 1 & 1),
			Exp:   int(exp),
			Mul:   float64(flags>>4) / 3,
		}
		if f, err := b.Float(v); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Fatalf("Float returned non-finite %v for %v", f, v)
		}
		_, _ = b.Int(v)
		_, _ = b.Uint(v)
		_, _ = b.String(v)
		if r, err := b.Raw(v); err == nil && len(r) != int(v.Words()) {
			t.Fatalf("Raw returned %d registers for %v", len(r), v)
		}
		_, _ = b.Registers(v.Table, v.Addr, v.Len)
		_ = v.Span().String()
		_, _ = NewPlan(PlanConfig{MaxCount: words, MaxGap: uint16(typ)}, v.Span(), Span{Holding, base, uint16(len(regs))})
	})
}
