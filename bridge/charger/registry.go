package charger

import (
	"context"
	"github.com/evbridge/evbridge/bridge/registry"
	"log/slog"
	"time"
)

// Driver describes one charger driver: how to configure it and build it.
type Driver struct {
	// Name is the id used in config (`driver: goe`).
	Name string
	// Title is the human name (brand and protocol) for docs and HA.
	Title string
	// DefaultPollInterval fits the protocol (HTTP 2 s, Modbus 1–2 s).
	DefaultPollInterval time.Duration
	// DefaultPort is used when Address has no port.
	DefaultPort int
	// CheckAddress, when set, replaces the config's host[:port] check, for
	// drivers whose address is not a host (an OCPP charge point identity).
	CheckAddress func(string) error
	// NewOptions returns a pointer to the driver's own options struct,
	// filled with defaults. The config loader decodes the charger's
	// `options:` block into it strictly (unknown keys are errors). Nil
	// means the driver takes no options.
	NewOptions func() any
	// New builds the driver. It must not do I/O: a charger unreachable at
	// start must never stop the daemon. opts is what NewOptions returned,
	// decoded.
	New func(s Settings, opts any, log *slog.Logger) (Charger, error)
}

// OptionsValidator is implemented by option structs that check themselves.
type OptionsValidator interface {
	Validate() error
}

// Registry maps driver names to drivers. The process has one, Default,
// which drivers add themselves to in init(); tests may build their own.
type Registry struct{ r registry.Registry[Driver] }

// Default is the registry drivers register with.
var Default = &Registry{}

// Register adds d to the default registry; it panics on a duplicate or
// incomplete driver, which is a programming error found at start.
func Register(d Driver) { Default.Add(d) }

// Add adds d; it panics on a duplicate name or a missing constructor.
func (r *Registry) Add(d Driver) {
	if d.New == nil {
		panic("charger: driver needs a name and a constructor")
	}
	r.r.Add("charger driver", d.Name, d)
}

// Lookup returns the driver called name.
func (r *Registry) Lookup(name string) (Driver, bool) { return r.r.Lookup(name) }

// Names returns the registered driver names, sorted.
func (r *Registry) Names() []string { return r.r.Names() }

// Simulator is a device simulator a driver package ships beside its driver.
type Simulator struct {
	// Name is the id for `evbridge sim <name>`, usually the driver name.
	Name  string
	Title string
	// Run serves the simulated device on addr until ctx ends. ready, if
	// not nil, is called with the bound address once it is listening.
	Run func(ctx context.Context, addr string, ready func(bound string)) error
	// DriverOptions, if not nil, adjusts the driver's default options
	// (NewOptions) to reach this simulator, e.g. with its login; the demo
	// and the tests that pair simulators with drivers use it.
	DriverOptions func(opts any)
}

var simulators registry.Registry[Simulator]

// RegisterSimulator adds a simulator for `evbridge sim` and the demo.
func RegisterSimulator(s Simulator) { simulators.Add("simulator", s.Name, s) }

// Simulators returns all registered simulators sorted by name.
func Simulators() []Simulator { return simulators.Values() }

// NewOptionsOf makes a Driver.NewOptions from the function that returns
// a driver's default options by value.
func NewOptionsOf[T any](defaults func() T) func() any {
	return func() any { o := defaults(); return &o }
}

// OptionsOr returns the options the config loader decoded (a *T), or the
// defaults when there are none: tests and the demo build drivers without
// a config file.
func OptionsOr[T any](opts any, defaults func() T) T {
	if p, ok := opts.(*T); ok && p != nil {
		return *p
	}
	return defaults()
}
