package webastonext

import (
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
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
	d, o := modbustest.Registered(t, "webasto_next", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("the Next has no phase switching")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{UnitID: 300})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "webasto_next", dial)
}
