package goe

import (
	"context"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestNewAndRegistry(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":      "http://192.0.2.7:80",
		"192.0.2.7:8080": "http://192.0.2.7:8080",
		"goe.local":      "http://goe.local:80",
		"::1":            "http://[::1]:80",
		"[::1]:81":       "http://[::1]:81",
	} {
		d, err := New(charger.Settings{Address: addr}, nil, nil)
		if err != nil || d.base != want {
			t.Errorf("address %q: %v %v, want %s", addr, d, err, want)
		}
	}
	for _, addr := range []string{"", "  ", "host/path", "a:b:c:d/x"} {
		if _, err := New(charger.Settings{Address: addr}, nil, nil); err == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
	if _, err := New(charger.Settings{Address: "h"}, &Options{Token: "a\nb"}, nil); err == nil {
		t.Error("token with a newline accepted")
	}

	drv, ok := charger.Default.Lookup("goe")
	if !ok || drv.DefaultPort != 80 || drv.DefaultPollInterval != 2*time.Second {
		t.Fatalf("registered driver: %+v", drv)
	}
	opts := drv.NewOptions()
	if _, ok := opts.(*Options); !ok {
		t.Fatalf("NewOptions gave %T", opts)
	}
	c, err := drv.New(charger.Settings{Address: "192.0.2.7"}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(charger.PhaseSwitcher); !ok {
		t.Fatal("driver lost a capability")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	t.Parallel()
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "goe" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no goe simulator registered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	d := newDriver(t, <-bound, 2*time.Second)
	st := pollUntil(t, d, "a plugged-in car", func(st charger.State) bool { return st.IEC != charger.IECA })
	if st.Brand != "go-e" {
		t.Fatalf("standalone simulator: %s", dump(st))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
