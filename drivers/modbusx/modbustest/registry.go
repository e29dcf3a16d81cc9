package modbustest

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// unreachable is an address no test expects an answer from: a driver's
// New does no I/O, so the registry tests never dial it.
const unreachable = "127.0.0.1:1"

// Registered returns the driver registered as name and the options its
// NewOptions gives, which must be the package's defaults; the default
// port must be Modbus's 502.
func Registered[O comparable](t *testing.T, name string, defaults O) (charger.Driver, *O) {
	t.Helper()
	d, ok := charger.Default.Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	o, ok := d.NewOptions().(*O)
	if !ok || *o != defaults || d.DefaultPort != 502 {
		t.Fatalf("options %+v, port %d", o, d.DefaultPort)
	}
	return d, o
}

// Instance builds a charger through the registry with opts; it is closed
// at the end of the test. The tests look at which optional capabilities
// (charger.Watchdogged, charger.PhaseSwitcher…) it offers.
func Instance(t *testing.T, d charger.Driver, opts any) charger.Charger {
	t.Helper()
	ch, err := d.New(charger.Settings{Address: unreachable}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.(charger.Closer).Close() })
	return ch
}

// RejectsOptions checks that the registry refuses bad options at New.
func RejectsOptions(t *testing.T, d charger.Driver, bad any) {
	t.Helper()
	if _, err := d.New(charger.Settings{Address: unreachable}, bad, nil); err == nil {
		t.Error("bad options accepted")
	}
}
