package phoenix

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "phoenix", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("the controller has no phase switching")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	modbustest.RejectsOptions(t, d, &Options{UnitID: 300})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "phoenix", dial)
}
