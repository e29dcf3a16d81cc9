package modbusx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fallback is read first, then each slot when due, the fallback in
// between; a failure is logged once until it changes or a read succeeds;
// Reset makes everything due again.
func TestRotation(t *testing.T) {
	var got []string
	fail := map[string]error{}
	slot := func(name string, every time.Duration) *Slot {
		return &Slot{Name: name, Every: every, Fetch: func(context.Context) (func(), error) {
			if err := fail[name]; err != nil {
				return nil, err
			}
			return func() { got = append(got, name) }, nil
		}}
	}
	r := Rotation{Slots: []*Slot{slot("identity", time.Hour), slot("settings", time.Hour)}, Fallback: slot("setpoint", 0)}
	var mu sync.Mutex
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for range r.Len() + 2 {
		r.Read(context.Background(), nil, &mu, log)
	}
	if want := "setpoint identity settings setpoint setpoint"; strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}

	got = nil
	r.Reset()
	fail["setpoint"] = errors.New("illegal data address")
	for range 3 {
		r.Read(context.Background(), nil, &mu, log)
	}
	if n := strings.Count(logs.String(), "registers unreadable"); n != 1 {
		t.Fatalf("%d failure logs for one failure, want 1:\n%s", n, logs.String())
	}
	if strings.Join(got, " ") != "identity settings" {
		t.Fatalf("after reset and a failing fallback: %v", got)
	}
	delete(fail, "setpoint")
	r.Read(context.Background(), nil, &mu, log)
	fail["setpoint"] = errors.New("illegal data address")
	r.Read(context.Background(), nil, &mu, log)
	if n := strings.Count(logs.String(), "registers unreadable"); n != 2 {
		t.Fatalf("a failure after a success must be logged again: %d logs", n)
	}
}
