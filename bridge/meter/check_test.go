package meter

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

func TestCheckReading(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Reading
		want []string // substrings of the error; none: valid
		is   []error
	}{
		{name: "empty", r: Reading{}},
		{name: "typical", r: Reading{Power: ptr(-3200), Currents: []float64{-4.6, 0, 1}, Voltages: []float64{230, 231, 229},
			EnergyImport: ptr(1234.5), EnergyExport: ptr(0), SoC: ptr(100)}},
		{name: "power at bound", r: Reading{Power: ptr(1e6)}, want: []string{"power 1e+06 W is implausible (±1 MW or more)"},
			is: []error{ErrImplausible}},
		{name: "negative power at bound", r: Reading{Power: ptr(-1e6)}, want: []string{"(±1 MW or more)"}, is: []error{ErrImplausible}},
		{name: "power NaN", r: Reading{Power: ptr(math.NaN())}, want: []string{"power is NaN, not a number"}, is: []error{ErrNotANumber}},
		{name: "power Inf", r: Reading{Power: ptr(math.Inf(1))}, want: []string{"(±1 MW or more)"}, is: []error{ErrImplausible}},
		{name: "energy negative", r: Reading{EnergyImport: ptr(-1)},
			want: []string{"energy import -1 kWh is implausible (outside 0..1e+09 kWh)"}, is: []error{ErrImplausible}},
		{name: "export too large", r: Reading{EnergyExport: ptr(2e9)}, want: []string{"energy export 2e+09 kWh"}},
		{name: "soc", r: Reading{SoC: ptr(101)}, want: []string{"soc 101 % is implausible (outside 0..100 %)"}},
		{name: "current", r: Reading{Currents: []float64{0, 6000}}, want: []string{"current L2 6000 A"}},
		{name: "voltage", r: Reading{Voltages: []float64{230, 230, -1}}, want: []string{"voltage L3 -1 V"}},
		{name: "voltage Inf", r: Reading{Voltages: []float64{math.Inf(-1)}}, want: []string{"voltage L1 is -Inf, not a number"},
			is: []error{ErrNotANumber}},
		{name: "all named", r: Reading{SoC: ptr(-1), Currents: []float64{math.NaN()}},
			want: []string{"soc -1 %", "current L1 is NaN"}, is: []error{ErrImplausible, ErrNotANumber}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckReading(tc.r)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckReading: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckReading: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, s := range tc.is {
				if !errors.Is(err, s) {
					t.Errorf("error %q is not %v", err, s)
				}
			}
		})
	}
}

func TestCheckReadingMessageUnprefixed(t *testing.T) {
	// The drivers log these messages; the sentinel must not change them.
	err := CheckReading(Reading{SoC: ptr(150)})
	if got, want := err.Error(), "soc 150 % is implausible (outside 0..100 %)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
