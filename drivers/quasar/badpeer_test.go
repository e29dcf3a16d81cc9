package quasar

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "wallbox_quasar: read status")
}

func TestDeviceBusy(t *testing.T) {
	s, c := modbustest.DeviceBusy(t, fixture)
	// The busy write was the first (taking control): nothing was retried
	// behind the charger's back, and the next command goes through.
	if err := c.SetCurrent(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	s.Busy(1)
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("refresh err = %v, want device busy", err)
	}
}

func TestSlowDevice(t *testing.T) {
	modbustest.SlowDevice(t, fixture, func(c *Charger) {
		// The timed-out poll dropped the link: a timeout, a lost or a
		// backed-off connection, never a silent success.
		if err := c.SetCurrent(context.Background(), 10); err == nil || !strings.HasPrefix(err.Error(), "wallbox_quasar: set current") {
			t.Errorf("write to a slow charger: %v", err)
		}
	})
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.Plug(true)
	modbustest.RequestsPerPoll(t, s, newDriver(t, s, testPool(t), nil), 6, 3)
}

func TestSilentPort(t *testing.T) {
	c := modbustest.SilentPort(t, dial)
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("refresh err = %v, want a timeout", err)
	}
	if err := c.SetCurrent(context.Background(), 10); err == nil || !strings.HasPrefix(err.Error(), "wallbox_quasar: set current") {
		t.Fatalf("write err = %v", err)
	}
}

func TestNotModbus(t *testing.T) { modbustest.NotModbusPort(t, dial) }

func TestWrongWordCount(t *testing.T) { modbustest.WrongWordCount(t, dial) }

func TestClosedPort(t *testing.T) { modbustest.ClosedPortUnreachable(t, dial) }

// TestTwoChargersOneGateway: two Quasars behind one address share one
// connection and do not mix up.
func TestTwoChargersOneGateway(t *testing.T) {
	s := startSim(t, SimConfig{Units: []uint8{1, 2}})
	pool := testPool(t)
	unit := func(id int) *Charger { return newDriver(t, s, pool, func(o *Options) { o.UnitID = id }) }
	modbustest.TwoUnitsOneGateway(t, s, pool, unit(1), unit(2), unit(3), 1, func() {
		snap := s.Snapshot()
		if snap.Stations[1].Action != actionStop || snap.Stations[2].Current != 9 {
			t.Fatalf("stations = %+v / %+v", snap.Stations[1], snap.Stations[2])
		}
	})
}

// BenchmarkPoll polls a simulated Quasar over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
