// Package meter is the contract between evbridge's core and its meter
// drivers (grid, PV and home-battery meters for solar-surplus charging and
// load management), and the registry meter drivers add themselves to. Like
// bridge/charger it imports nothing of the core.
package meter

import (
	"context"
	"crypto/tls"
	"github.com/evbridge/evbridge/bridge/registry"
	"log/slog"
	"time"
)

// Reading is one meter reading in the meter's own sign convention; the
// core applies the configured role, sign and scale. Pointer fields are nil
// when the meter does not measure them.
type Reading struct {
	// Power is the total active power, W.
	Power *float64 `json:"power,omitempty"`
	// Currents and Voltages are per phase L1..L3, A and V. Currents carry
	// the same sign as Power where the meter tells direction.
	Currents []float64 `json:"currents,omitempty"`
	Voltages []float64 `json:"voltages,omitempty"`
	// EnergyImport and EnergyExport are lifetime counters, kWh.
	EnergyImport *float64 `json:"energy_import,omitempty"`
	EnergyExport *float64 `json:"energy_export,omitempty"`
	// SoC is a battery's state of charge, %.
	SoC *float64 `json:"soc,omitempty"`
	// Measured is when the device took the reading, if it says; zero
	// otherwise. A value that stops changing with Measured is stale.
	Measured time.Time `json:"measured,omitzero"`
}

// Settings is what the core tells a meter driver.
type Settings struct {
	Name    string
	Address string
	Timeout time.Duration
	// LocalBroker tells evbridge's own MQTT broker and login, for meters
	// that read topics and name no broker of their own. It is asked at
	// connect time (an embedded broker's port is known only then); nil
	// outside the daemon.
	LocalBroker func() BrokerLogin
}

// BrokerLogin is an MQTT broker URL, its credentials and, for a TLS
// broker, evbridge's TLS settings for it (nil: the system's defaults).
type BrokerLogin struct {
	URL, Username, Password string
	TLS                     *tls.Config
}

// Meter is the one interface every meter driver implements.
type Meter interface {
	Read(ctx context.Context) (Reading, error)
}

// Closer releases a meter driver's connections.
type Closer interface{ Close() error }

// Driver describes one meter driver (see charger.Driver for the fields).
type Driver struct {
	Name                string
	Title               string
	DefaultPollInterval time.Duration
	DefaultPort         int
	// NewOptions returns a pointer to the driver's options with defaults;
	// the config loader decodes the meter's `options:` block into it
	// strictly. Nil: no options.
	NewOptions func() any
	// New builds the driver without I/O.
	New func(s Settings, opts any, log *slog.Logger) (Meter, error)
}

// Registry maps meter driver names to drivers.
type Registry struct{ r registry.Registry[Driver] }

// Default is the registry meter drivers register with in init().
var Default = &Registry{}

// Register adds d to the default registry; it panics on a duplicate.
func Register(d Driver) { Default.Add(d) }

// Add adds d; it panics on a duplicate name or a missing constructor.
func (r *Registry) Add(d Driver) {
	if d.New == nil {
		panic("meter: driver needs a name and a constructor")
	}
	r.r.Add("meter driver", d.Name, d)
}

// Lookup returns the driver called name.
func (r *Registry) Lookup(name string) (Driver, bool) { return r.r.Lookup(name) }

// Names returns the registered names, sorted.
func (r *Registry) Names() []string { return r.r.Names() }
