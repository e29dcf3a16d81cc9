package modbustest

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Gateway is a simulator with several units behind one address, as a
// Modbus TCP gateway or a proxy with unit ids serves them.
type Gateway interface {
	Sim
	PlugUnit(unit uint8, plugged bool)
}

// UnitDriver is a driver that can stop its unit from charging.
type UnitDriver interface {
	Driver
	charger.Enabler
}

// TwoUnitsOneGateway: a (unit 1) and b (unit 2), built on pool, share
// one connection and do not mix up. b's current and a's stop reach their
// own unit (checkWrites looks at the simulator's side), each poll reads
// its own unit, the gateway sees masters connections, and other (unit 3,
// nothing behind it) gets the gateway's exception.
func TwoUnitsOneGateway[D UnitDriver](t *testing.T, s Gateway, pool *modbusx.Pool, a, b, other D, masters int, checkWrites func()) {
	t.Helper()
	ctx := context.Background()
	s.PlugUnit(2, true)
	if err := b.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := a.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	checkWrites()
	WaitFor(t, "unit 2 charging", func() bool { return Poll(t, b).Status == charger.StatusCharging })
	l, r := Poll(t, a), Poll(t, b)
	if l.Status != charger.StatusNoVehicle || *l.Enabled || *r.CurrentLimit != 9 {
		t.Fatalf("unit 1 %s enabled %v, unit 2 limit %v", l.Status, *l.Enabled, *r.CurrentLimit)
	}
	if m := s.Masters(); m != masters {
		t.Fatalf("gateway saw %d connections, want %d", m, masters)
	}
	if st := pool.Stats(); st.Dials != 1 || st.Conns != 1 {
		t.Fatalf("pool = %+v: the registers of both units share one connection", st)
	}
	if _, err := other.Poll(ctx); !errors.Is(err, modbusx.ErrGatewayTarget) {
		t.Fatalf("unit 3: %v", err)
	}
}
