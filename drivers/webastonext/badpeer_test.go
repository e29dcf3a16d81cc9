package webastonext

import (
	"context"
	"errors"
	"testing"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestSilentPort(t *testing.T) {
	c := modbustest.SilentPort(t, dial)
	if err := c.Refresh(context.Background()); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("refresh err = %v, want a timeout", err)
	}
}

func TestNotModbus(t *testing.T) { modbustest.NotModbusPort(t, dial) }

func TestWrongWordCount(t *testing.T) { modbustest.WrongWordCount(t, dial) }

func TestClosedPort(t *testing.T) { modbustest.ClosedPortUnreachable(t, dial) }
