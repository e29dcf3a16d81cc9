package modbusx

import (
	"fmt"
	"slices"
)

// Table is a register table, read with its own function code.
type Table uint8

// Register tables. Holding is the zero value: most chargers use only it.
const (
	Holding Table = iota // read with FC3
	Input                // read with FC4
)

func (t Table) String() string {
	switch t {
	case Holding:
		return "holding"
	case Input:
		return "input"
	}
	return fmt.Sprintf("table(%d)", uint8(t))
}

// MaxRegisters is the largest read the protocol allows (FC3/FC4).
const MaxRegisters = 125

// Span is a run of registers in one table: what a value occupies, or what
// one request reads.
type Span struct {
	Table Table
	Addr  uint16
	Count uint16
}

// End is the address after the span's last register.
func (s Span) End() int { return int(s.Addr) + int(s.Count) }

func (s Span) String() string {
	return fmt.Sprintf("%s %d..%d", s.Table, s.Addr, s.End()-1)
}

// Boundary forbids any request that holds both register Addr-1 and Addr:
// devices that reject reads crossing a block, or a hole, declare them.
type Boundary struct {
	Table Table
	Addr  uint16
}

// Illegal returns the boundaries around a range the device answers with
// an exception, so that no merged request ever reads across it.
func Illegal(t Table, addr, count uint16) []Boundary {
	return []Boundary{{t, addr}, {t, uint16(min(int(addr)+int(count), 0xffff))}}
}

// PlanConfig sets what a device accepts in one request.
type PlanConfig struct {
	// MaxCount is the most registers one request may read (default and
	// ceiling 125).
	MaxCount uint16
	// MaxGap is the most unneeded registers a request may read to join
	// two wanted spans (default 0: only touching or overlapping spans are
	// joined). Only raise it over registers the device answers.
	MaxGap uint16
	// Boundaries no request may cross.
	Boundaries []Boundary
}

// Plan is the list of read requests that covers a set of spans.
type Plan struct {
	reqs []Span
}

// Requests returns the planned requests in table and address order.
func (p *Plan) Requests() []Span { return slices.Clone(p.reqs) }

// Len is the number of requests one read of the plan takes.
func (p *Plan) Len() int { return len(p.reqs) }

// NewPlan merges the spans a driver needs into as few requests as cfg
// allows: never across tables, boundaries or MaxCount, bridging at most
// MaxGap unneeded registers. A span that is itself invalid is an error.
func NewPlan(cfg PlanConfig, spans ...Span) (*Plan, error) {
	if cfg.MaxCount == 0 || cfg.MaxCount > MaxRegisters {
		cfg.MaxCount = MaxRegisters
	}
	for _, s := range spans {
		switch {
		case s.Table > Input:
			return nil, fmt.Errorf("plan %s: unknown table", s)
		case s.Count == 0:
			return nil, fmt.Errorf("plan %s %d: empty span", s.Table, s.Addr)
		case s.Count > cfg.MaxCount:
			return nil, fmt.Errorf("plan %s: %d registers exceed the %d a request may read", s, s.Count, cfg.MaxCount)
		case s.End() > 0x10000:
			return nil, fmt.Errorf("plan %s: ends past address 65535", s)
		case crosses(cfg.Boundaries, s.Table, int(s.Addr), s.End()):
			return nil, fmt.Errorf("plan %s: crosses a no-merge boundary", s)
		}
	}
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b Span) int {
		if a.Table != b.Table {
			return int(a.Table) - int(b.Table)
		}
		if a.Addr != b.Addr {
			return int(a.Addr) - int(b.Addr)
		}
		return int(b.Count) - int(a.Count)
	})
	p := &Plan{}
	for _, s := range sorted {
		if n := len(p.reqs); n > 0 {
			cur := &p.reqs[n-1]
			end := max(cur.End(), s.End())
			if cur.Table == s.Table &&
				int(s.Addr) <= cur.End()+int(cfg.MaxGap) &&
				end-int(cur.Addr) <= int(cfg.MaxCount) &&
				!crosses(cfg.Boundaries, s.Table, int(cur.Addr), end) {
				cur.Count = uint16(end - int(cur.Addr))
				continue
			}
		}
		p.reqs = append(p.reqs, s)
	}
	return p, nil
}

// crosses reports whether [start, end) holds both sides of a boundary.
func crosses(bs []Boundary, t Table, start, end int) bool {
	for _, b := range bs {
		if b.Table == t && start < int(b.Addr) && int(b.Addr) < end {
			return true
		}
	}
	return false
}
