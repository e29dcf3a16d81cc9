package discover

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/evbridge/evbridge/bridge/charger"
)

// GetFunc sends GET path (e.g. "/api/status?filter=sse") to the device
// and returns the status code and at most maxBody bytes of the reply. It
// follows no redirects and sends no credentials.
type GetFunc func(ctx context.Context, path string) (status int, body []byte, err error)

// RegisterReader reads registers of one Modbus TCP device (FC3 holding,
// FC4 input). Reads are bounded by the caller's context and the
// connection timeout; nothing can be written through it.
type RegisterReader interface {
	ReadHolding(ctx context.Context, unit uint8, addr, count uint16) ([]uint16, error)
	ReadInput(ctx context.Context, unit uint8, addr, count uint16) ([]uint16, error)
}

// Fingerprinter recognises one driver's devices and reads their identity.
// Exactly one of HTTP and Modbus is set. Identify functions must only
// read, must treat every reply as untrusted, and return an error (not an
// empty identity) when the device is not theirs; a returned identity
// needs a Serial, which is what evbridge tracks a charger by.
type Fingerprinter struct {
	// Driver is the charger.Registry name (also for drivers that do not
	// exist yet, such as meters).
	Driver string
	// Brand is the human brand name used when the device tells none.
	Brand string
	Kind  Kind
	// Port is the protocol's usual port: Probe fingerprints a port with
	// the fingerprinters of that port; mDNS finds use it for Modbus.
	Port int
	// Order sorts fingerprinters of one port; lower runs first. Put the
	// requests least likely to disturb other devices first.
	Order int

	// HTTP identifies a device through get.
	HTTP func(ctx context.Context, get GetFunc) (charger.Identity, error)
	// Modbus identifies a device through r, typically from its
	// identification registers at the documented unit id.
	Modbus func(ctx context.Context, r RegisterReader) (charger.Identity, error)
}

func (f Fingerprinter) proto() string {
	if f.Modbus != nil {
		return "modbus"
	}
	return "http"
}

// Registry holds fingerprinters. Default holds the built-in ones; a
// driver package may add its own in init() (RegisterModbus or
// RegisterHTTP on Default).
type Registry struct {
	mu  sync.RWMutex
	fps []Fingerprinter
}

// Default is the registry discovery uses unless Options.Registry is set.
var Default = NewRegistry(builtins()...)

// NewRegistry returns a registry holding fps.
func NewRegistry(fps ...Fingerprinter) *Registry {
	r := &Registry{}
	for _, f := range fps {
		r.Add(f)
	}
	return r
}

// Add adds f; it panics on an incomplete fingerprinter or a second one
// for the same driver and protocol, which are programming errors.
func (r *Registry) Add(f Fingerprinter) {
	if f.Driver == "" || f.Port <= 0 || f.Port > 65535 || (f.HTTP == nil) == (f.Modbus == nil) {
		panic(fmt.Sprintf("discover: fingerprinter %q needs a driver, a port and exactly one of HTTP and Modbus", f.Driver))
	}
	if f.Kind == "" {
		f.Kind = KindCharger
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.fps {
		if g.Driver == f.Driver && g.proto() == f.proto() {
			panic(fmt.Sprintf("discover: %s fingerprinter for %q registered twice", f.proto(), f.Driver))
		}
	}
	r.fps = append(r.fps, f)
	sort.SliceStable(r.fps, func(i, j int) bool {
		if r.fps[i].Order != r.fps[j].Order {
			return r.fps[i].Order < r.fps[j].Order
		}
		return r.fps[i].Driver < r.fps[j].Driver
	})
}

// RegisterHTTP adds an HTTP fingerprinter to Default.
func RegisterHTTP(f Fingerprinter) {
	if f.HTTP == nil {
		panic("discover: RegisterHTTP needs an HTTP function")
	}
	Default.Add(f)
}

// RegisterModbus adds a Modbus fingerprinter to Default.
func RegisterModbus(f Fingerprinter) {
	if f.Modbus == nil {
		panic("discover: RegisterModbus needs a Modbus function")
	}
	Default.Add(f)
}

// ForPort returns the fingerprinters of port, in order.
func (r *Registry) ForPort(port int) []Fingerprinter {
	return r.filter(func(f Fingerprinter) bool { return f.Port == port })
}

// ForDriver returns the fingerprinters of driver, in order.
func (r *Registry) ForDriver(driver string) []Fingerprinter {
	return r.filter(func(f Fingerprinter) bool { return f.Driver == driver })
}

// All returns every fingerprinter, in order.
func (r *Registry) All() []Fingerprinter {
	return r.filter(func(Fingerprinter) bool { return true })
}

func (r *Registry) filter(keep func(Fingerprinter) bool) []Fingerprinter {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Fingerprinter
	for _, f := range r.fps {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}
