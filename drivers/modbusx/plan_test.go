package modbusx

import (
	"slices"
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	h := func(addr, n uint16) Span { return Span{Holding, addr, n} }
	in := func(addr, n uint16) Span { return Span{Input, addr, n} }
	tests := []struct {
		name  string
		cfg   PlanConfig
		spans []Span
		want  []Span
		err   string
	}{
		{name: "empty", want: nil},
		{name: "single", spans: []Span{h(10, 2)}, want: []Span{h(10, 2)}},
		{name: "touching merge", spans: []Span{h(10, 2), h(12, 2)}, want: []Span{h(10, 4)}},
		{name: "overlap and duplicate", spans: []Span{h(10, 4), h(12, 1), h(10, 4)}, want: []Span{h(10, 4)}},
		{name: "contained", spans: []Span{h(10, 10), h(12, 2)}, want: []Span{h(10, 10)}},
		{name: "unsorted", spans: []Span{h(20, 1), h(10, 2), h(12, 1)}, want: []Span{h(10, 3), h(20, 1)}},
		{name: "gap not bridged by default", spans: []Span{h(10, 2), h(13, 1)}, want: []Span{h(10, 2), h(13, 1)}},
		{name: "gap bridged", cfg: PlanConfig{MaxGap: 1}, spans: []Span{h(10, 2), h(13, 1)}, want: []Span{h(10, 4)}},
		{name: "gap too wide", cfg: PlanConfig{MaxGap: 5}, spans: []Span{h(10, 2), h(18, 1)}, want: []Span{h(10, 2), h(18, 1)}},
		{name: "gap exactly max", cfg: PlanConfig{MaxGap: 6}, spans: []Span{h(10, 2), h(18, 1)}, want: []Span{h(10, 9)}},
		{name: "never across tables", cfg: PlanConfig{MaxGap: 100}, spans: []Span{h(10, 2), in(12, 2)}, want: []Span{h(10, 2), in(12, 2)}},
		{name: "max count splits", cfg: PlanConfig{MaxCount: 10, MaxGap: 100}, spans: []Span{h(0, 4), h(4, 4), h(8, 4), h(12, 2)}, want: []Span{h(0, 8), h(8, 6)}},
		{name: "default max 125", cfg: PlanConfig{MaxGap: 1000}, spans: []Span{h(0, 1), h(124, 1), h(125, 1)}, want: []Span{h(0, 125), h(125, 1)}},
		{name: "max count above 125 clamps", cfg: PlanConfig{MaxCount: 200, MaxGap: 1000}, spans: []Span{h(0, 1), h(125, 1)}, want: []Span{h(0, 1), h(125, 1)}},
		{name: "boundary stops merge", cfg: PlanConfig{MaxGap: 100, Boundaries: []Boundary{{Holding, 12}}}, spans: []Span{h(10, 2), h(12, 2)}, want: []Span{h(10, 2), h(12, 2)}},
		{name: "boundary of other table ignored", cfg: PlanConfig{Boundaries: []Boundary{{Input, 12}}}, spans: []Span{h(10, 2), h(12, 2)}, want: []Span{h(10, 4)}},
		{name: "illegal range not bridged", cfg: PlanConfig{MaxGap: 100, Boundaries: Illegal(Holding, 20, 5)}, spans: []Span{h(10, 2), h(30, 2)}, want: []Span{h(10, 2), h(30, 2)}},
		{name: "illegal range elsewhere", cfg: PlanConfig{MaxGap: 100, Boundaries: Illegal(Holding, 50, 5)}, spans: []Span{h(10, 2), h(30, 2)}, want: []Span{h(10, 22)}},
		{name: "boundary at span start is fine", cfg: PlanConfig{Boundaries: []Boundary{{Holding, 10}}}, spans: []Span{h(10, 2)}, want: []Span{h(10, 2)}},
		{name: "top of address space", spans: []Span{h(65534, 2)}, want: []Span{h(65534, 2)}},
		{name: "span crosses boundary", cfg: PlanConfig{Boundaries: []Boundary{{Holding, 11}}}, spans: []Span{h(10, 2)}, err: "boundary"},
		{name: "empty span", spans: []Span{h(10, 0)}, err: "empty"},
		{name: "span too long", cfg: PlanConfig{MaxCount: 4}, spans: []Span{h(10, 5)}, err: "exceed"},
		{name: "past 65535", spans: []Span{h(65535, 2)}, err: "65535"},
		{name: "bad table", spans: []Span{{Table(7), 1, 1}}, err: "unknown table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(tc.cfg, tc.spans...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Requests(); !slices.Equal(got, tc.want) {
				t.Fatalf("requests = %v, want %v", got, tc.want)
			}
			if p.Len() != len(tc.want) {
				t.Fatalf("Len = %d", p.Len())
			}
			// Every wanted span lies inside exactly one request.
			for _, s := range tc.spans {
				n := 0
				for _, r := range p.Requests() {
					if r.Table == s.Table && r.Addr <= s.Addr && s.End() <= r.End() {
						n++
					}
				}
				if n != 1 {
					t.Errorf("span %v in %d requests", s, n)
				}
			}
		})
	}
}

func TestPlanFromValues(t *testing.T) {
	vals := []Value{At(306, Float32), At(308, Float32), At(374, Float64), Text(1201, 5), At(1215, Uint16)}
	p, err := NewPlan(PlanConfig{MaxGap: 70}, Spans(vals...)...)
	if err != nil {
		t.Fatal(err)
	}
	want := []Span{{Holding, 306, 72}, {Holding, 1201, 15}}
	if got := p.Requests(); !slices.Equal(got, want) {
		t.Fatalf("requests = %v, want %v", got, want)
	}
}
