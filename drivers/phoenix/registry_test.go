package phoenix

import (
	"context"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestRegistry(t *testing.T) {
	d, ok := charger.Default.Lookup("phoenix")
	if !ok {
		t.Fatal("phoenix not registered")
	}
	o, ok := d.NewOptions().(*Options)
	if !ok || *o != DefaultOptions() || d.DefaultPort != 502 {
		t.Fatalf("options %+v, port %d", o, d.DefaultPort)
	}
	ch, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.(charger.Closer).Close()
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("the controller has no phase switching")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, err := d.New(charger.Settings{Address: "127.0.0.1:1"}, &Options{UnitID: 300}, nil); err == nil {
		t.Error("bad options accepted")
	}
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "phoenix" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("phoenix simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	addr := <-bound
	c, err := New(charger.Settings{Address: addr, Timeout: 3 * time.Second}, DefaultOptions(), nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := poll(t, c); st.Status == charger.StatusNoVehicle || st.Status == charger.StatusUnknown {
		t.Errorf("standalone simulator has no car: %s", st.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
