package sunspec

import (
	"errors"
	"fmt"

	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// The "SunS" marker at the base address (SS, protocols.md §16).
const (
	markerHi = 0x5375 // "Su"
	markerLo = 0x6E53 // "nS"
	endID    = 0xFFFF // model ID of the end marker
)

// "Not implemented" values of the SunSpec point types.
const (
	nanInt16  = 0x8000 // int16 and sunssf
	nanUint16 = 0xFFFF // uint16 and enum16
	nanAcc32  = 0      // acc32
)

// Model IDs.
const (
	modelCommon = 1
)

// isInverter and isMeter tell the integer+SF model families this driver
// reads; the float variants (111–113, 211–214) are not supported.
func isInverter(id uint16) bool { return id >= 101 && id <= 103 }
func isMeter(id uint16) bool    { return id >= 201 && id <= 204 }

// phases is the number of phases a model describes: 1 for 101 and 201,
// 2 for the split-phase 102 and 202, 3 for the rest.
func phases(id uint16) int {
	switch id {
	case 101, 201:
		return 1
	case 102, 202:
		return 2
	}
	return 3
}

// Offsets within a block, counted from its ID register (offset 0; L is
// offset 1), from the sunspec/models JSON files.
const (
	// Model 1, common.
	cMn  = 2  // string16, manufacturer
	cMd  = 18 // string16, model
	cVr  = 42 // string8, version
	cSN  = 50 // string16, serial number
	cLen = 66 // registers of model 1 after the header

	// Models 201–204, meters: int16 values, sunssf scale factors.
	mAphA     = 3  // AphA..AphC at 3..5
	mASF      = 6  // A_SF
	mPhVphA   = 8  // PhVphA..PhVphC at 8..10 (line to neutral)
	mVSF      = 15 // V_SF
	mW        = 18 // W, total real power
	mWSF      = 22 // W_SF
	mTotWhExp = 38 // acc32
	mTotWhImp = 46 // acc32
	mTotWhSF  = 54 // TotWh_SF
	mNeed     = mTotWhSF + 1

	// Models 101–103, inverters: uint16 currents and voltages, int16 W.
	iAphA   = 3  // AphA..AphC at 3..5
	iASF    = 6  // A_SF
	iPhVphA = 10 // PhVphA..PhVphC at 10..12
	iVSF    = 13 // V_SF
	iW      = 14 // W, AC power
	iWSF    = 15 // W_SF
	iWH     = 24 // acc32, lifetime AC energy
	iWHSF   = 26 // WH_SF
	iNeed   = iWHSF + 1
)

// need is how many registers of a block, header included, a read needs.
func need(id uint16) uint16 {
	if isMeter(id) {
		return mNeed
	}
	return iNeed
}

// maxSF is the largest scale factor magnitude SunSpec allows.
const maxSF = 10

// errModelMoved means the block no longer holds the model found at
// discovery (the device was reconfigured or replaced).
var errModelMoved = errors.New("model block changed since discovery")

// block decodes the points of one model block read into a Block.
type block struct {
	b    *modbusx.Block
	addr uint16 // address of the ID register
}

func (k block) raw16(off uint16) (uint16, error) {
	u, err := k.b.Uint(modbusx.At(k.addr+off, modbusx.Uint16))
	return uint16(u), err
}

// sf returns a scale factor; ok is false when it is not implemented.
func (k block) sf(off uint16, name string) (exp int, ok bool, err error) {
	v, err := k.b.Int(modbusx.At(k.addr+off, modbusx.Int16))
	switch {
	case err != nil:
		return 0, false, err
	case v == -0x8000:
		return 0, false, nil
	case v < -maxSF || v > maxSF:
		return 0, false, fmt.Errorf("scale factor %s = %d is outside -%d..%d", name, v, maxSF, maxSF)
	}
	return int(v), true, nil
}

// value returns a scaled int16 (signed) or uint16 point; ok is false
// when it or its scale factor is not implemented.
func (k block) value(off uint16, signed bool, exp int, expOK bool) (float64, bool, error) {
	t, nan := modbusx.Uint16, int64(nanUint16)
	if signed {
		t, nan = modbusx.Int16, -0x8000
	}
	v, err := k.b.Int(modbusx.At(k.addr+off, t))
	if err != nil || v == nan || !expOK {
		return 0, false, err
	}
	return modbusx.Scale(float64(v), exp, 0), true, nil
}

// acc32 returns a scaled acc32 counter in kWh; 0 is "not implemented".
func (k block) acc32(off uint16, exp int, expOK bool) (*float64, error) {
	v, err := k.b.Uint(modbusx.At(k.addr+off, modbusx.Uint32))
	if err != nil || v == nanAcc32 || !expOK {
		return nil, err
	}
	kwh := modbusx.Scale(float64(v), exp, 0) / 1000
	return &kwh, nil
}

// perPhase returns the leading implemented phases of n points from off:
// a single-phase model leaves B and C unimplemented, and a gap ends the
// list so that index i is always phase i+1.
func (k block) perPhase(off uint16, n int, signed bool, exp int, expOK bool) ([]float64, error) {
	var out []float64
	for i := range n {
		v, ok, err := k.value(off+uint16(i), signed, exp, expOK)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeModel decodes the block of model ref from b. Values the device
// marks "not implemented" are left out of the reading, never zero.
func decodeModel(b *modbusx.Block, ref modelRef) (meter.Reading, error) {
	k := block{b: b, addr: ref.Addr}
	id, err := k.raw16(0)
	if err != nil {
		return meter.Reading{}, err
	}
	if id != ref.ID {
		return meter.Reading{}, fmt.Errorf("%w: model %d expected at %d, found %d", errModelMoved, ref.ID, ref.Addr, id)
	}
	var r meter.Reading
	switch {
	case isMeter(id):
		err = k.decodeMeter(&r, phases(id))
	case isInverter(id):
		err = k.decodeInverter(&r, phases(id))
	default:
		err = fmt.Errorf("model %d is not supported", id)
	}
	if err != nil {
		return meter.Reading{}, fmt.Errorf("model %d at %d: %w", id, ref.Addr, err)
	}
	if err := meter.CheckReading(r); err != nil {
		return meter.Reading{}, fmt.Errorf("model %d at %d: %w", id, ref.Addr, err)
	}
	return r, nil
}

func (k block) decodeMeter(r *meter.Reading, n int) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	aSF, aOK, err := k.sf(mASF, "A_SF")
	add(err)
	vSF, vOK, err := k.sf(mVSF, "V_SF")
	add(err)
	wSF, wOK, err := k.sf(mWSF, "W_SF")
	add(err)
	eSF, eOK, err := k.sf(mTotWhSF, "TotWh_SF")
	add(err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w, ok, err := k.value(mW, true, wSF, wOK)
	if ok {
		r.Power = &w
	}
	add(err)
	r.Currents, err = k.perPhase(mAphA, n, true, aSF, aOK)
	add(err)
	r.Voltages, err = k.perPhase(mPhVphA, n, true, vSF, vOK)
	add(err)
	r.EnergyImport, err = k.acc32(mTotWhImp, eSF, eOK)
	add(err)
	r.EnergyExport, err = k.acc32(mTotWhExp, eSF, eOK)
	add(err)
	return errors.Join(errs...)
}

// decodeInverter reads an inverter's output: Power is the AC power it
// delivers (positive while producing) and its lifetime energy counter,
// which counts while Power is positive, is EnergyImport.
func (k block) decodeInverter(r *meter.Reading, n int) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	aSF, aOK, err := k.sf(iASF, "A_SF")
	add(err)
	vSF, vOK, err := k.sf(iVSF, "V_SF")
	add(err)
	wSF, wOK, err := k.sf(iWSF, "W_SF")
	add(err)
	eSF, eOK, err := k.sf(iWHSF, "WH_SF")
	add(err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w, ok, err := k.value(iW, true, wSF, wOK)
	if ok {
		r.Power = &w
	}
	add(err)
	r.Currents, err = k.perPhase(iAphA, n, false, aSF, aOK)
	add(err)
	r.Voltages, err = k.perPhase(iPhVphA, n, false, vSF, vOK)
	add(err)
	r.EnergyImport, err = k.acc32(iWH, eSF, eOK)
	add(err)
	return errors.Join(errs...)
}

// identity is what model 1 says about the device.
type identity struct {
	Manufacturer, Model, Version, Serial string
}

func decodeCommon(b *modbusx.Block, addr uint16) identity {
	str := func(off, words uint16) string {
		s, _ := b.String(modbusx.Text(addr+off, words))
		return s
	}
	return identity{Manufacturer: str(cMn, 16), Model: str(cMd, 16), Version: str(cVr, 8), Serial: str(cSN, 16)}
}
