package discover

import (
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Known is a configured charger as the tracker sees it.
type Known struct {
	Name, Driver string
	// Address is as configured: host, host:port or [v6]:port.
	Address string
	// Serial is the device's serial once a poll (or a find) told it;
	// until then the charger cannot be recognised elsewhere.
	Serial string
}

// Moved says a configured charger answers at a new address.
type Moved struct {
	Name string `json:"name"`
	// From and To are addresses in the configured form: To keeps the
	// port only when From had one or the device is not on its driver's
	// default port.
	From string `json:"from"`
	To   string `json:"to"`
	// By is how the charger was found at To (Found.FoundBy).
	By string `json:"by"`
}

// Tracker recognises configured chargers among finds by their identity
// (driver and serial), so a charger whose DHCP lease changed is followed
// rather than lost. Chargers configured by host name are never moved:
// the name follows the device by itself. It is safe for concurrent use.
type Tracker struct {
	defaultPort func(driver string) int

	mu    sync.Mutex
	known map[string]Known // by name
}

// NewTracker tracks known. defaultPort gives a driver's default port (nil:
// the charger.Default registry's DefaultPort).
func NewTracker(known []Known, defaultPort func(driver string) int) *Tracker {
	if defaultPort == nil {
		defaultPort = func(driver string) int {
			d, _ := charger.Default.Lookup(driver)
			return d.DefaultPort
		}
	}
	t := &Tracker{defaultPort: defaultPort, known: map[string]Known{}}
	for _, k := range known {
		t.known[k.Name] = k
	}
	return t
}

// Update records what is known of a charger now: the core calls it when a
// poll tells the serial, or after it rebuilt the driver at a new address.
func (t *Tracker) Update(k Known) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.known[k.Name] = k
}

// Known returns the tracked charger called name.
func (t *Tracker) Known(name string) (Known, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.known[name]
	return k, ok
}

// Observe checks one find against the configured chargers. When exactly
// one configured charger has the find's driver and serial and the find
// is at another address, Observe reports the move and from then on
// tracks the charger at the new address. Unverified finds, finds without
// a serial, and serials configured twice never move anything.
func (t *Tracker) Observe(f Found) (Moved, bool) {
	if !f.Verified() || f.Serial == "" || f.Address == "" {
		return Moved{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var match []Known
	for _, k := range t.known {
		if k.Serial == f.Serial && k.Driver == f.Driver {
			match = append(match, k)
		}
	}
	if len(match) != 1 {
		return Moved{}, false
	}
	k := match[0]
	to, moved := t.newAddress(k, f.Address)
	if !moved {
		return Moved{}, false
	}
	m := Moved{Name: k.Name, From: k.Address, To: to, By: f.FoundBy}
	k.Address = to
	t.known[k.Name] = k
	return m, true
}

// newAddress compares the configured address with the found host:port
// and returns the address to configure if they differ.
func (t *Tracker) newAddress(k Known, found string) (string, bool) {
	fh, fp, err := net.SplitHostPort(found)
	if err != nil {
		return "", false
	}
	fa, err := netip.ParseAddr(fh)
	if err != nil {
		return "", false
	}
	host, port, err := splitHostPort(k.Address)
	if err != nil {
		return "", false
	}
	ka, err := netip.ParseAddr(host)
	if err != nil {
		return "", false // a host name: it follows the device by itself
	}
	fport, _ := strconv.Atoi(fp)
	wantPort := port
	if wantPort == 0 {
		wantPort = t.defaultPort(k.Driver)
	}
	if ka.Unmap() == fa.Unmap() && (wantPort == 0 || wantPort == fport) {
		return "", false
	}
	if port == 0 && (wantPort == fport || wantPort == 0) {
		return fa.Unmap().String(), true
	}
	return net.JoinHostPort(fa.Unmap().String(), fp), true
}
