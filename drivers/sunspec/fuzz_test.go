package sunspec

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// regsOf turns bytes into big-endian registers.
func regsOf(data []byte) []uint16 {
	regs := make([]uint16, len(data)/2)
	for i := range regs {
		regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
	}
	return regs
}

func bytesOf(regs []uint16) []byte {
	out := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}

// FuzzDecodeModel feeds arbitrary registers as a model block: decoding
// never panics, and a reading it returns passes the plausibility check.
func FuzzDecodeModel(f *testing.F) {
	s := NewSimulator(SimConfig{Models: []uint16{203, 101}, ImportWh: 5000})
	img := s.image(s.last)
	meterAt := 4 + cLen
	f.Add(bytesOf(img[meterAt:meterAt+107]), uint16(203))
	f.Add(bytesOf(img[meterAt+107:meterAt+107+52]), uint16(101))
	f.Add([]byte{0, 203, 0, 105, 0x80, 0}, uint16(203))
	f.Fuzz(func(t *testing.T, data []byte, id uint16) {
		regs := regsOf(data)
		if len(regs) > 0 {
			regs[0] = id // the ID register matches, so the points are decoded
		}
		b := modbusx.NewBlock()
		b.Put(modbusx.Holding, 100, regs)
		r, err := decodeModel(b, modelRef{ID: id, Addr: 100, Len: uint16(max(len(regs)-2, 0))})
		if err != nil {
			return
		}
		if err := meter.CheckReading(r); err != nil {
			t.Fatalf("decoded an implausible reading: %v", err)
		}
		if len(r.Currents) > 3 || len(r.Voltages) > 3 {
			t.Fatalf("more than three phases: %+v", r)
		}
	})
}

// fakeReader serves a register image from base, with exceptions
// outside it.
type fakeReader struct {
	base uint16
	regs []uint16
}

func (f fakeReader) Read(_ context.Context, _ modbusx.Table, addr, count uint16) ([]uint16, error) {
	lo := int(addr) - int(f.base)
	if lo < 0 || lo+int(count) > len(f.regs) {
		return nil, &modbusx.Error{Kind: modbusx.ErrIllegalAddress}
	}
	return f.regs[lo : lo+int(count)], nil
}

func (f fakeReader) ReadPlan(ctx context.Context, p *modbusx.Plan) (*modbusx.Block, error) {
	b := modbusx.NewBlock()
	for _, r := range p.Requests() {
		regs, err := f.Read(ctx, r.Table, r.Addr, r.Count)
		if err != nil {
			return nil, err
		}
		b.Put(r.Table, r.Addr, regs)
	}
	return b, nil
}

// FuzzDiscover walks arbitrary register maps: discovery never panics or
// loops, and what it selects is a supported model inside the map.
func FuzzDiscover(f *testing.F) {
	s := NewSimulator(SimConfig{Models: []uint16{103, 160, 203}})
	f.Add(bytesOf(s.image(s.last)), uint8(0))
	f.Add([]byte{0x53, 0x75, 0x6e, 0x53, 0, 1, 0xff, 0xfe}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, pickModel uint8) {
		rd := fakeReader{base: 40000, regs: regsOf(data)}
		o := DefaultOptions()
		o.Instance = int(pickModel%3) + 1
		d, err := discover(context.Background(), rd, o)
		if err != nil {
			return
		}
		if !isMeter(d.sel.ID) && !isInverter(d.sel.ID) {
			t.Fatalf("selected model %d", d.sel.ID)
		}
		if _, err := rd.ReadPlan(context.Background(), d.plan); err != nil && !errors.Is(err, modbusx.ErrIllegalAddress) {
			t.Fatal(err)
		}
	})
}
