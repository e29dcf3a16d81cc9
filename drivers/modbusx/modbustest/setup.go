package modbustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// QuickCar reacts within a tenth of a second, to keep the tests short.
func QuickCar() simcar.Config {
	return simcar.Config{Delay: 50 * time.Millisecond, Tau: 50 * time.Millisecond}
}

// QuickCarIfUnset is QuickCar unless the test configured its own car.
func QuickCarIfUnset(c simcar.Config) simcar.Config {
	if c.Delay == 0 && c.Tau == 0 {
		return QuickCar()
	}
	return c
}

// Startable is a simulator as the tests start it.
type Startable interface {
	Start(ctx context.Context, addr string) error
	Close() error
}

// Start starts s on a free loopback port and closes it at the end of the
// test.
func Start[S Startable](t testing.TB, s S) S {
	t.Helper()
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Closer is a driver that holds connections.
type Closer interface {
	Driver
	Close() error
}

// NewFunc is a driver package's New.
type NewFunc[O any, D Closer] func(charger.Settings, O, *slog.Logger, *modbusx.Pool) (D, error)

// Settings are a test charger's: named "test", allowed maxCurrent A, with
// a timeout (3 s) no loopback answer comes near unless a fault is
// injected.
func Settings(addr string, maxCurrent float64) charger.Settings {
	return charger.Settings{Name: "test", Address: addr, Timeout: 3 * time.Second, MaxCurrent: maxCurrent}
}

// Build builds a driver with newDriver from s and o, edited by edit if
// set, on pool; it is closed at the end of the test.
func Build[O any, D Closer](t testing.TB, newDriver NewFunc[O, D], s charger.Settings, o O, edit func(*O), pool *modbusx.Pool) D {
	t.Helper()
	if edit != nil {
		edit(&o)
	}
	c, err := newDriver(s, o, nil, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Connect returns the Fixture.Dial of a driver package: newDriver is the
// package's New, defaults its DefaultOptions.
func Connect[O any, D Closer](newDriver NewFunc[O, D], defaults func() O) func(t testing.TB, addr string, timeout time.Duration) D {
	return func(t testing.TB, addr string, timeout time.Duration) D {
		t.Helper()
		return Build(t, newDriver, charger.Settings{Address: addr, Timeout: timeout}, defaults(), nil, Pool(t))
	}
}

// PollUntil polls c until cond holds for the state read.
func PollUntil[D Driver](t testing.TB, c D, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	WaitFor(t, what, func() bool { st = Poll(t, c); return cond(st) })
	return st
}
