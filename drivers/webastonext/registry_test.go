package webastonext

import (
	"context"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestOptions(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.UnitID = 0 },
		func(o *Options) { o.UnitID = 256 },
		func(o *Options) { o.ComTimeout = -1 },
		func(o *Options) { o.ComTimeout = 4000 },
		func(o *Options) { o.SafeCurrent = 5 },
		func(o *Options) { o.SafeCurrent = 33 },
	}
	for i, edit := range bad {
		o := DefaultOptions()
		edit(&o)
		if o.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
	}
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.ComTimeout = 0
	c, err := New(charger.Settings{Address: "127.0.0.1"}, o, nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if iv := c.RefreshInterval(); iv != 5*time.Second {
		t.Fatalf("timeout 0 assumes 20 s: interval %v", iv)
	}
}

func TestRegistry(t *testing.T) {
	d, ok := charger.Default.Lookup("webasto_next")
	if !ok {
		t.Fatal("webasto_next not registered")
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
		t.Error("the Next has no phase switching")
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
		if s.Name == "webasto_next" {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatal("webasto_next simulator not registered")
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
