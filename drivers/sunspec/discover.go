package sunspec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// defaultBases are the base addresses tried, in order, when none is
// configured (protocols.md §16).
func defaultBases() []uint16 { return []uint16{40000, 0, 50000} }

// maxModels bounds the model chain walk against a device that never
// sends the end marker.
const maxModels = 64

// reader is the part of a modbusx.Client discovery and reads use.
type reader interface {
	Read(ctx context.Context, t modbusx.Table, addr, count uint16) ([]uint16, error)
	ReadPlan(ctx context.Context, p *modbusx.Plan) (*modbusx.Block, error)
}

// modelRef is one model block in the chain.
type modelRef struct {
	ID   uint16
	Addr uint16 // address of the ID register
	Len  uint16 // L: registers after the two-register header
}

// device is what discovery learned: the chain and the block to read.
type device struct {
	base   uint16
	models []modelRef
	sel    modelRef
	plan   *modbusx.Plan
	ident  identity
}

func (d *device) chain() string {
	ids := make([]string, len(d.models))
	for i, m := range d.models {
		ids[i] = strconv.Itoa(int(m.ID))
	}
	return strings.Join(ids, ", ")
}

// findBase returns the first base address holding "SunS". Only an
// exception or a wrong marker moves on to the next base: a device that
// does not answer at all fails discovery at once.
func findBase(ctx context.Context, rd reader, bases []uint16) (uint16, error) {
	var tried []string
	for _, base := range bases {
		regs, err := rd.Read(ctx, modbusx.Holding, base, 2)
		switch {
		case errors.Is(err, modbusx.ErrException):
			tried = append(tried, fmt.Sprintf("%d (exception)", base))
			continue
		case err != nil:
			return 0, fmt.Errorf("look for the sunspec marker at %d: %w", base, err)
		case len(regs) == 2 && regs[0] == markerHi && regs[1] == markerLo:
			return base, nil
		}
		tried = append(tried, fmt.Sprintf("%d (%04x %04x)", base, regs[0], regs[1]))
	}
	return 0, fmt.Errorf("no \"SunS\" marker at %s: not a sunspec device, or the wrong unit id", strings.Join(tried, ", "))
}

// walk reads the model headers after base up to the end marker. A
// device answering an exception where the end marker should be has
// ended the chain, as long as some model came before.
func walk(ctx context.Context, rd reader, base uint16) ([]modelRef, error) {
	var models []modelRef
	addr := int(base) + 2
	for range maxModels {
		if addr+2 > 0x10000 {
			return nil, fmt.Errorf("model chain runs past address 65535 after %d models", len(models))
		}
		h, err := rd.Read(ctx, modbusx.Holding, uint16(addr), 2)
		switch {
		case err != nil && errors.Is(err, modbusx.ErrException) && len(models) > 0:
			return models, nil
		case err != nil:
			return nil, fmt.Errorf("read model header at %d: %w", addr, err)
		case len(h) != 2:
			return nil, fmt.Errorf("read model header at %d: %d registers", addr, len(h))
		case h[0] == endID || h[0] == 0:
			// 0 is no model: devices that pad instead of marking the end.
			return models, nil
		}
		models = append(models, modelRef{ID: h[0], Addr: uint16(addr), Len: h[1]})
		addr += 2 + int(h[1])
	}
	return nil, fmt.Errorf("no end marker after %d models", maxModels)
}

// pick returns the instance-th block (1-based) of the model asked for;
// model 0 asks for a meter (201–204), or an inverter (101–103) when
// there is no meter.
func pick(models []modelRef, model, instance int) (modelRef, error) {
	var cands []modelRef
	if model != 0 {
		for _, m := range models {
			if int(m.ID) == model {
				cands = append(cands, m)
			}
		}
	} else {
		for _, ok := range []func(uint16) bool{isMeter, isInverter} {
			for _, m := range models {
				if ok(m.ID) {
					cands = append(cands, m)
				}
			}
		}
	}
	what := "a meter (201-204) or inverter (101-103) model"
	if model != 0 {
		what = "model " + strconv.Itoa(model)
	}
	if instance > len(cands) {
		found := make([]string, len(models))
		for i, m := range models {
			found[i] = strconv.Itoa(int(m.ID))
		}
		if len(cands) == 0 {
			return modelRef{}, fmt.Errorf("no %s in the chain (found %s)", what, strings.Join(found, ", "))
		}
		return modelRef{}, fmt.Errorf("instance %d of %s asked for, the chain has %d (found %s)",
			instance, what, len(cands), strings.Join(found, ", "))
	}
	sel := cands[instance-1]
	if sel.Len+2 < need(sel.ID) {
		return modelRef{}, fmt.Errorf("model %d at %d is %d registers long, shorter than the %d its points need",
			sel.ID, sel.Addr, sel.Len, need(sel.ID)-2)
	}
	return sel, nil
}

// discover finds the base, walks the chain, reads the identity and
// plans the read of the selected block.
func discover(ctx context.Context, rd reader, o Options) (*device, error) {
	bases := defaultBases()
	if o.BaseAddress != nil {
		bases = []uint16{uint16(*o.BaseAddress)}
	}
	base, err := findBase(ctx, rd, bases)
	if err != nil {
		return nil, err
	}
	models, err := walk(ctx, rd, base)
	if err != nil {
		return nil, err
	}
	d := &device{base: base, models: models}
	if d.sel, err = pick(models, o.Model, max(o.Instance, 1)); err != nil {
		return nil, err
	}
	span := modbusx.Span{Table: modbusx.Holding, Addr: d.sel.Addr, Count: need(d.sel.ID)}
	if d.plan, err = modbusx.NewPlan(modbusx.PlanConfig{}, span); err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(models, func(m modelRef) bool { return m.ID == modelCommon }); i >= 0 {
		c := models[i]
		n := min(c.Len, cLen) + 2
		if p, err := modbusx.NewPlan(modbusx.PlanConfig{}, modbusx.Span{Addr: c.Addr, Count: n}); err == nil {
			if b, err := rd.ReadPlan(ctx, p); err == nil {
				d.ident = decodeCommon(b, c.Addr)
			}
		}
	}
	return d, nil
}
