package setpoint

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func newSP(writes *[]float64, fail *bool) *Setpoint {
	return &Setpoint{Driver: "test", Min: 6, Max: 16, Round: math.Floor,
		Write: func(_ context.Context, a float64) error {
			if *fail {
				return errors.New("device busy")
			}
			*writes = append(*writes, a)
			return nil
		}}
}

func TestSetpointRules(t *testing.T) {
	ctx := context.Background()
	var writes []float64
	fail := false
	s := newSP(&writes, &fail)
	if ok, _ := s.Rewrite(ctx); ok || len(writes) != 0 {
		t.Fatal("rewrote before anything was known")
	}
	if err := s.SetCurrent(ctx, 10.7); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCurrent(ctx, 8); err != nil { // kept for the next enable
		t.Fatal(err)
	}
	if err := s.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Rewrite(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if want := []float64{10, 0, 0, 8, 8}; !slices.Equal(writes, want) {
		t.Fatalf("writes %v, want %v", writes, want)
	}
	for _, a := range []float64{5.9, 16.1, math.NaN()} {
		if err := s.SetCurrent(ctx, a); err == nil || !strings.Contains(err.Error(), "outside 6..16 A") {
			t.Errorf("SetCurrent(%v) = %v", a, err)
		}
	}
	fail = true
	if err := s.SetEnabled(ctx, false); err == nil || !strings.Contains(err.Error(), "test: set enabled: device busy") {
		t.Errorf("error not wrapped: %v", err)
	}
}

func TestAdoptOnce(t *testing.T) {
	var writes []float64
	fail := false
	s := newSP(&writes, &fail)
	if !s.Adopt(12) {
		t.Fatal("did not adopt")
	}
	if a, on, known := s.State(); a != 12 || !on || !known {
		t.Fatalf("state %v %v %v", a, on, known)
	}
	if s.Adopt(0) {
		t.Fatal("adopted twice")
	}
	s2 := newSP(&writes, &fail)
	s2.Adopt(0) // the device holds 0 A: disabled, minimum on enable
	_ = s2.SetEnabled(context.Background(), true)
	if w, _ := s2.Wanted(); w != 6 {
		t.Fatalf("enable after adopting 0 A offers %v, want 6", w)
	}
}
