package charger

import (
	"context"
	"github.com/evbridge/evbridge/bridge/registry"
	"log/slog"
)

// Service is a process-wide component a driver package runs beside its
// drivers: a server that chargers dial into (an OCPP central system), where
// the usual "the core polls the device" direction is reversed. The core
// starts each configured service once at boot, before the charger workers,
// and stops it when it stops (after the workers, and waiting for it). A
// service never speaks MQTT; it reaches the core only through ServiceHost.
type Service struct {
	// Name is the service's config key (`ocpp:` → "ocpp"); usually the
	// name of the driver it serves.
	Name string
	// Title is the human name, for logs and docs.
	Title string
	// Drivers lists the drivers that need the service: the core starts it
	// when its config block is present or when any charger uses one of
	// these drivers (with the defaults of NewOptions).
	Drivers []string
	// NewOptions returns a pointer to the service's options struct filled
	// with defaults; the config loader decodes the `<Name>:` block into it
	// strictly. Nil means the service takes no options.
	NewOptions func() any
	// Start starts serving and returns once the service is ready (or has
	// failed to start, e.g. its port is taken). The service then runs
	// until ctx ends or stop is called; stop returns only once the service
	// has let go of its port and its connections, so a restart in the same
	// process finds them free. opts is what NewOptions returned, decoded.
	Start func(ctx context.Context, opts any, host ServiceHost, log *slog.Logger) (stop func(), err error)
}

// ServiceHost is what the core offers a running service.
type ServiceHost interface {
	// Offer tells the core about a device the configuration does not
	// name, so that a user can adopt it (the core publishes offers on MQTT
	// and Home Assistant). Adopting means configuring a charger with
	// Offer.Driver and Offer.Address. The same device may be offered again
	// as it tells more (identity) or goes away (Online false); the last
	// offer for a Driver and Address replaces earlier ones. Offer must not
	// block.
	Offer(o Offer)
}

// Offer describes a device that reached evbridge by itself.
type Offer struct {
	// Driver and Address are what a charger entry adopting the device
	// needs (for OCPP: driver ocpp, address = the charge point identity).
	Driver  string `json:"driver"`
	Address string `json:"address"`
	// Identity is what the device told about itself, as far as known.
	Identity Identity `json:"identity"`
	// Remote is the device's network address, for display.
	Remote string `json:"remote,omitempty"`
	// Detail is free text, e.g. the protocol version spoken.
	Detail string `json:"detail,omitempty"`
	// Online is false once the device has gone away.
	Online bool `json:"online"`
	// Pending is true while the device waits for a user to adopt it; it
	// is false when the service admitted the device anyway (a policy
	// that accepts unknown devices).
	Pending bool `json:"pending"`
}

var services registry.Registry[Service]

// RegisterService adds a service; it panics on a duplicate or incomplete
// service, which is a programming error found at start.
func RegisterService(s Service) {
	if s.Start == nil {
		panic("charger: service needs a name and a Start function")
	}
	services.Add("service", s.Name, s)
}

// LookupService returns the service called name.
func LookupService(name string) (Service, bool) { return services.Lookup(name) }

// Services returns all registered services sorted by name.
func Services() []Service { return services.Values() }
