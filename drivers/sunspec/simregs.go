package sunspec

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// pointKind is a SunSpec point type, which sets its "not implemented"
// value.
type pointKind uint8

const (
	kS16 pointKind = iota // int16
	kU16                  // uint16, enum16
	kSF                   // sunssf
	kAcc                  // acc32
)

type point struct {
	off  uint16
	kind pointKind
}

// meterPoints and inverterPoints are the points the simulator computes,
// by name, per model family.
func meterPoints() map[string]point {
	return map[string]point{
		"A": {2, kS16}, "AphA": {3, kS16}, "AphB": {4, kS16}, "AphC": {5, kS16}, "A_SF": {6, kSF},
		"PhV": {7, kS16}, "PhVphA": {8, kS16}, "PhVphB": {9, kS16}, "PhVphC": {10, kS16}, "V_SF": {15, kSF},
		"Hz": {16, kS16}, "Hz_SF": {17, kSF},
		"W": {18, kS16}, "WphA": {19, kS16}, "WphB": {20, kS16}, "WphC": {21, kS16}, "W_SF": {22, kSF},
		"TotWhExp": {38, kAcc}, "TotWhImp": {46, kAcc}, "TotWh_SF": {54, kSF},
	}
}

func inverterPoints() map[string]point {
	return map[string]point{
		"A": {2, kU16}, "AphA": {3, kU16}, "AphB": {4, kU16}, "AphC": {5, kU16}, "A_SF": {6, kSF},
		"PhVphA": {10, kU16}, "PhVphB": {11, kU16}, "PhVphC": {12, kU16}, "V_SF": {13, kSF},
		"W": {14, kS16}, "W_SF": {15, kSF}, "Hz": {16, kU16}, "Hz_SF": {17, kSF},
		"WH": {24, kAcc}, "WH_SF": {26, kSF}, "TmpCab": {33, kS16}, "Tmp_SF": {37, kSF}, "St": {38, kU16},
	}
}

// image is the whole register map from the base address; s.mu is held.
func (s *Simulator) image(now time.Time) []uint16 {
	grid, pv := s.advance(now)
	regs := []uint16{markerHi, markerLo, modelCommon, cLen}
	common := make([]uint16, cLen)
	put := func(off, words uint16, v string) {
		copy(common[off-2:], modbusx.EncodeString(v, int(words), modbusx.HighByteFirst))
	}
	put(cMn, 16, s.cfg.Manufacturer)
	put(cMd, 16, s.cfg.Model)
	put(cVr, 8, s.cfg.Version)
	put(cSN, 16, s.cfg.Serial)
	common[cLen-2] = uint16(s.cfg.UnitID) // DA
	regs = append(regs, common...)
	for _, id := range s.cfg.Models {
		switch {
		case isMeter(id):
			regs = append(regs, s.meterBlock(id, grid)...)
		case isInverter(id):
			regs = append(regs, s.inverterBlock(id, pv)...)
		default:
			regs = append(regs, append([]uint16{id, 10}, make([]uint16, 10)...)...)
		}
	}
	if !s.cfg.NoEndMarker {
		regs = append(regs, endID, 0)
	}
	return regs
}

// block is a model block being filled: every point starts "not
// implemented".
type simBlock struct {
	regs   []uint16
	points map[string]point
}

func newSimBlock(id, length uint16, points map[string]point, fill func(off int) uint16) *simBlock {
	b := &simBlock{regs: make([]uint16, length+2), points: points}
	b.regs[0], b.regs[1] = id, length
	for i := 2; i < len(b.regs); i++ {
		b.regs[i] = fill(i)
	}
	return b
}

func (b *simBlock) set(name string, raw uint32) {
	p, ok := b.points[name]
	if !ok {
		return
	}
	if p.kind == kAcc {
		copy(b.regs[p.off:], modbusx.EncodeUint32(raw, modbusx.HighWordFirst))
		return
	}
	b.regs[p.off] = uint16(raw)
}

// scaled stores v at name with the smallest scale factor from minSF up
// that fits the type, and returns that factor.
func (b *simBlock) scaled(minSF int, kind pointKind, vals map[string]float64) int {
	limit := 32767.0
	switch kind {
	case kU16:
		limit = 65534
	case kAcc:
		limit = math.MaxUint32
	}
	biggest := 0.0
	for _, v := range vals {
		biggest = math.Max(biggest, math.Abs(v))
	}
	sf := minSF
	for sf < maxSF && math.Round(biggest/math.Pow10(sf)) > limit {
		sf++
	}
	for name, v := range vals {
		r := math.Round(v / math.Pow10(sf))
		if kind == kS16 {
			b.set(name, uint32(uint16(int16(r))))
		} else {
			b.set(name, uint32(r))
		}
	}
	return sf
}

// finish applies "not implemented" points and raw overrides.
func (s *Simulator) finish(b *simBlock) []uint16 {
	for name := range s.notImpl {
		if p, ok := b.points[name]; ok {
			switch p.kind {
			case kS16, kSF:
				b.set(name, nanInt16)
			case kU16:
				b.set(name, nanUint16)
			case kAcc:
				b.set(name, nanAcc32)
			}
		}
	}
	for name, raw := range s.overrides {
		b.set(name, raw)
	}
	return b.regs
}

// phaseName is the letter SunSpec names phase i (from 0) with.
func phaseName(i int) string { return string(rune('A' + i)) }

// sf16 is a scale factor as a raw register.
func sf16(sf int) uint32 { return uint32(uint16(int16(sf))) }

// meterBlock is a 201–204 block (L = 105) for a total power of grid W
// shared evenly by the model's phases.
func (s *Simulator) meterBlock(id uint16, grid float64) []uint16 {
	b := newSimBlock(id, 105, meterPoints(), func(off int) uint16 {
		if off >= mTotWhExp && off < mTotWhSF || off > mTotWhSF && off != 71 && off != 104 {
			return nanAcc32 // the acc32 and bitfield points
		}
		return nanInt16
	})
	n := phases(id)
	amps, volts, watts := map[string]float64{}, map[string]float64{}, map[string]float64{"W": grid}
	sumA, sumV := 0.0, 0.0
	for i := range n {
		v := s.cfg.Voltage + float64(i)/2
		p := grid / float64(n)
		ph := phaseName(i)
		amps["Aph"+ph], volts["PhVph"+ph], watts["Wph"+ph] = p/v, v, p
		sumA += p / v
		sumV += v
	}
	amps["A"], volts["PhV"] = sumA, sumV/float64(n)
	b.set("A_SF", sf16(b.scaled(-2, kS16, amps)))
	b.set("V_SF", sf16(b.scaled(-1, kS16, volts)))
	b.set("W_SF", sf16(b.scaled(-1, kS16, watts)))
	b.set("Hz_SF", sf16(b.scaled(-2, kS16, map[string]float64{"Hz": 50})))
	b.set("TotWh_SF", sf16(b.scaled(0, kAcc, map[string]float64{"TotWhImp": s.importWh, "TotWhExp": s.exportWh})))
	return s.finish(b)
}

// inverterBlock is a 101–103 block (L = 50) delivering pv W.
func (s *Simulator) inverterBlock(id uint16, pv float64) []uint16 {
	b := newSimBlock(id, 50, inverterPoints(), func(off int) uint16 {
		switch off {
		case 6, 13, 15, 17, 18, 19, 20, 21, 22, 23, 26, 28, 30, 31, 32, 33, 34, 35, 36, 37:
			return nanInt16 // int16 and sunssf points
		case 24, 25:
			return nanAcc32
		}
		return nanUint16 // uint16, enum16 and bitfield32 points
	})
	n := phases(id)
	amps, volts := map[string]float64{}, map[string]float64{}
	sumA := 0.0
	for i := range n {
		v := s.cfg.Voltage + float64(i)/2
		ph := phaseName(i)
		amps["Aph"+ph], volts["PhVph"+ph] = pv/float64(n)/v, v
		sumA += pv / float64(n) / v
	}
	amps["A"] = sumA
	b.set("A_SF", sf16(b.scaled(-2, kU16, amps)))
	b.set("V_SF", sf16(b.scaled(-1, kU16, volts)))
	b.set("W_SF", sf16(b.scaled(0, kS16, map[string]float64{"W": pv})))
	b.set("Hz_SF", sf16(b.scaled(-2, kU16, map[string]float64{"Hz": 50})))
	b.set("WH_SF", sf16(b.scaled(0, kAcc, map[string]float64{"WH": s.produced})))
	b.set("Tmp_SF", sf16(b.scaled(-1, kS16, map[string]float64{"TmpCab": 35 + pv/1000})))
	st := uint32(2) // SLEEPING
	if pv > 0 {
		st = 4 // MPPT
	}
	b.set("St", st)
	return s.finish(b)
}
