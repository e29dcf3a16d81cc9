package genericmodbus

import (
	"fmt"
	"math"
	"strings"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Problem is one thing wrong with a definition, at a key path inside
// options (such as measurements.power.type).
type Problem struct {
	Path, Msg string
}

// DefinitionError lists every problem a definition has.
type DefinitionError []Problem

func (e DefinitionError) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.Path + ": " + p.Msg
	}
	return "generic_modbus definition: " + strings.Join(parts, "; ")
}

// checker collects a definition's problems while compiling it.
type checker struct {
	errs    DefinitionError
	unit    uint8
	maxRegs uint16
	bounds  []int
	reads   []*field // read on every poll
	idents  []*field // read with the identity
	writes  []*field
}

func (c *checker) bad(path, format string, args ...any) {
	c.errs = append(c.errs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string { return path + "." + key }

// use says what a register is for, which limits its type and table.
type use uint8

const (
	useAny    use = iota // strings and numbers (status, identity, conditions)
	useNumber            // numbers only (measurements)
	useWrite             // numbers in a holding register, written
	useRaw               // like useWrite, with raw values: no scaling
)

// register checks r and compiles it; nil when r is unusable.
func (c *checker) register(path string, r *Register, u use) *field {
	n := len(c.errs)
	if r.Address == nil {
		c.bad(join(path, "address"), "is required")
	} else if *r.Address < 0 || *r.Address > 0xffff {
		c.bad(join(path, "address"), "%d is outside 0..65535", *r.Address)
	}
	t := r.Type
	str := t == Type(modbusx.String)
	switch {
	case t == 0 || int(t) > len(typeNames):
		c.bad(join(path, "type"), "is required (one of %s)", strings.Join(typeNames, ", "))
	case str && u != useAny:
		c.bad(join(path, "type"), "a string cannot hold this value; use a numeric type")
	case str && (r.Length < 1 || r.Length > int(c.maxRegs)):
		c.bad(join(path, "length"), "a string needs its length in registers, 1..%d", c.maxRegs)
	case !str && r.Length != 0:
		c.bad(join(path, "length"), "applies only to strings (a %s spans %d registers)", t, t.words())
	case r.WordOrder != 0 && t.words() < 2:
		c.bad(join(path, "word_order"), "applies only to 32- and 64-bit types, not %s", t)
	case r.ByteOrder != 0 && !str:
		c.bad(join(path, "byte_order"), "applies only to strings")
	}
	if r.Unit < 0 || r.Unit > 255 {
		c.bad(join(path, "unit"), "%d is outside 1..255", r.Unit)
	}
	if r.Multiplier != nil || r.Exponent != 0 {
		switch m := r.Multiplier; {
		case str:
			c.bad(path, "multiplier and exponent do not apply to strings")
		case u == useRaw:
			c.bad(path, "multiplier and exponent do not apply here: the values are raw register values")
		case m != nil && (math.IsNaN(*m) || math.IsInf(*m, 0)):
			c.bad(join(path, "multiplier"), "must be a finite number")
		case m != nil && *m == 0:
			c.bad(join(path, "multiplier"), "0 would make every value 0")
		case r.Exponent < -12 || r.Exponent > 12:
			c.bad(join(path, "exponent"), "%d is outside -12..12", r.Exponent)
		}
	}
	if (u == useWrite || u == useRaw) && r.Table != Table(modbusx.Holding) {
		c.bad(join(path, "table"), "input registers are read-only; this register is written")
	}
	if len(c.errs) > n {
		return nil
	}
	f := &field{path: path, unit: c.unit, v: modbusx.Value{
		Table: modbusx.Table(r.Table), Addr: uint16(*r.Address), Type: modbusx.Type(t),
		Len: uint16(r.Length), Order: modbusx.WordOrder(r.WordOrder), Bytes: modbusx.ByteOrder(r.ByteOrder),
		Exp: r.Exponent,
	}}
	if r.Multiplier != nil {
		f.v.Mul = *r.Multiplier
	}
	if r.Unit != 0 {
		f.unit = uint8(r.Unit)
	}
	s := f.span()
	switch {
	case s.End() > 0x10000:
		c.bad(path, "registers %d..%d run past address 65535", s.Addr, s.End()-1)
		return nil
	case s.Count > c.maxRegs:
		c.bad(path, "%d registers are more than connection.max_registers (%d)", s.Count, c.maxRegs)
		return nil
	}
	for _, b := range c.bounds {
		if int(s.Addr) < b && b < s.End() {
			c.bad(path, "registers %d..%d cross the boundary %d in connection.boundaries", s.Addr, s.End()-1, b)
			return nil
		}
	}
	for i, v := range r.Unavailable {
		k, err := canonical(t, s.Count, v)
		if err != nil {
			c.bad(fmt.Sprintf("%s.unavailable[%d]", path, i), "%v", err)
			continue
		}
		if f.na == nil {
			f.na = map[string]bool{}
		}
		f.na[k] = true
	}
	return f
}

// read compiles a register read on every poll.
func (c *checker) read(path string, r *Register, u use) *field {
	if r == nil {
		return nil
	}
	f := c.register(path, r, u)
	if f != nil {
		c.reads = append(c.reads, f)
	}
	return f
}

// write compiles a written register.
func (c *checker) write(path string, r *Register, u use) *field {
	f := c.register(path, r, u)
	if f != nil {
		c.writes = append(c.writes, f)
	}
	return f
}

// raw encodes a raw value for f, reporting it at path.
func (c *checker) raw(path string, f *field, x *float64) []uint16 {
	if x == nil {
		c.bad(path, "is required")
		return nil
	}
	if f == nil {
		return nil
	}
	r, err := encode(f.v, *x)
	if err != nil {
		c.bad(path, "%v", err)
	}
	return r
}

// cond compiles a condition.
type cond struct {
	*field
	values  map[string]bool
	negate  bool
	atLeast *float64
	mask    uint64
}

func (c *checker) condition(path string, k *Condition) *cond {
	set := 0
	for _, b := range []bool{len(k.Values) > 0, len(k.NotValues) > 0, k.AtLeast != nil, k.Mask != 0} {
		if b {
			set++
		}
	}
	f := c.read(path, &k.Register, useAny)
	if set != 1 {
		c.bad(path, "set exactly one of values, not_values, at_least and mask")
		return nil
	}
	if f == nil {
		return nil
	}
	out := &cond{field: f, atLeast: k.AtLeast, mask: k.Mask}
	switch t := f.typ(); {
	case k.AtLeast != nil && (!t.integer() && !t.float()):
		c.bad(join(path, "at_least"), "needs a numeric register, not %s", t)
	case k.AtLeast != nil && (math.IsNaN(*k.AtLeast) || math.IsInf(*k.AtLeast, 0)):
		c.bad(join(path, "at_least"), "must be a finite number")
	case k.Mask != 0 && !t.integer():
		c.bad(join(path, "mask"), "needs an integer register, not %s", t)
	}
	list, key := k.Values, "values"
	if len(k.NotValues) > 0 {
		list, key, out.negate = k.NotValues, "not_values", true
	}
	for i, v := range list {
		s, err := canonical(f.typ(), f.span().Count, v)
		if err != nil {
			c.bad(fmt.Sprintf("%s.%s[%d]", path, key, i), "%v", err)
			continue
		}
		if out.values == nil {
			out.values = map[string]bool{}
		}
		out.values[s] = true
	}
	return out
}

// overlaps reports registers that share some but not all of their
// registers: a typo in an address, or a value read with the wrong type.
// Writes may not share registers at all.
func (c *checker) overlaps() {
	pairs := func(fs []*field, exactOK bool) {
		for i, a := range fs {
			for _, b := range fs[i+1:] {
				sa, sb := a.span(), b.span()
				if a.unit != b.unit || sa.Table != sb.Table || sa.End() <= int(sb.Addr) || sb.End() <= int(sa.Addr) {
					continue
				}
				if exactOK && sa == sb {
					continue
				}
				c.bad(b.path, "%s overlaps %s (%s) on unit %d", sb, a.path, sa, a.unit)
			}
		}
	}
	pairs(append(append([]*field{}, c.reads...), c.idents...), true)
	pairs(c.writes, false)
}
