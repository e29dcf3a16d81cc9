// Package discover finds chargers and meters on the LAN: passively by
// mDNS (DNS-SD) browsing, actively by probing subnets the user names, and
// at static addresses. Whatever the way, a device is reported only with
// the identity (brand, model, serial, firmware) read from the device
// itself through a Fingerprinter of its driver; mDNS names and TXT
// records only say which fingerprinter to try.
//
// Facts: ../shared/notes/protocols.md §18 (service types) and the brand
// sections it names. Nothing here writes to a device: fingerprints are
// HTTP GETs and Modbus reads (FC3). Probe never runs unless called.
package discover

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"
	"unicode"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Kind is what a found device is to evbridge.
type Kind string

// Kinds of devices discovery reports.
const (
	KindCharger Kind = "charger"
	KindMeter   Kind = "meter"
)

// How a device was found (Found.FoundBy).
const (
	ByMDNS   = "mdns"
	ByProbe  = "probe"
	ByStatic = "static"
)

// Found is one device discovery reported.
type Found struct {
	// Address is host:port of the protocol the driver speaks.
	Address string `json:"address"`
	// Driver is the charger.Registry name of the driver that speaks it.
	Driver   string `json:"driver"`
	Brand    string `json:"brand"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	Kind     Kind   `json:"kind"`
	// FoundBy is ByMDNS, ByProbe or ByStatic.
	FoundBy string `json:"found_by"`
	// Service is the mDNS service instance name, for mDNS finds.
	Service string `json:"service,omitempty"`
	// Hostname is the mDNS host name, for mDNS finds.
	Hostname string `json:"hostname,omitempty"`
	// Note is set when the device announced itself by mDNS but its
	// identity could not be read; it says why.
	Note string `json:"note,omitempty"`
}

// Verified reports whether the identity was read from the device.
func (f Found) Verified() bool { return f.Note == "" }

// Identity returns the device's identity in the charger model's terms.
func (f Found) Identity() charger.Identity {
	return charger.Identity{Brand: f.Brand, Model: f.Model, Serial: f.Serial, Firmware: f.Firmware}
}

// key identifies the device across ways of finding it: the serial when
// known, else the address.
func (f Found) key() string {
	if f.Serial != "" {
		return f.Driver + "\x00" + f.Serial
	}
	return f.Driver + "\x00@" + f.Address
}

// Merge joins lists of finds, keeping one entry per device (by driver and
// serial, else by address). A verified entry beats an unverified one;
// otherwise the first list wins, so pass mDNS finds before probe finds.
func Merge(lists ...[]Found) []Found {
	var out []Found
	at := map[string]int{}
	for _, l := range lists {
		for _, f := range l {
			if i, ok := at[f.key()]; ok {
				if !out[i].Verified() && f.Verified() {
					out[i] = f
				}
				continue
			}
			at[f.key()] = len(out)
			out = append(out, f)
		}
	}
	return out
}

// Options tune Browse, Probe and Identify. Zero fields take the defaults.
type Options struct {
	// Timeout is how long Browse listens for announcements (default 3 s;
	// negative: until ctx ends).
	Timeout time.Duration
	// Ifaces are the interfaces mDNS uses (default: every multicast one).
	Ifaces []net.Interface
	// ConnTimeout bounds one connection attempt and one request of a
	// fingerprint (default 1 s: LAN devices answer in milliseconds).
	ConnTimeout time.Duration
	// Concurrency is how many hosts Probe works on at once (default 128;
	// each host's ports in parallel). Browse fingerprints at most 16
	// devices at once, fewer when Concurrency is lower.
	Concurrency int
	// MaxPrefix is the largest subnet Probe accepts, as an IPv4 prefix
	// length from 1 to 32 (default 22: at most 1024 addresses). IPv6
	// subnets are held to the same number of addresses.
	MaxPrefix int
	// Ports are the TCP ports Probe tries on each host (default 80 and
	// 502); a port is fingerprinted by the fingerprinters registered for it.
	Ports []int
	// Registry holds the fingerprinters (default: Default).
	Registry *Registry
	// Dial opens connections (default: a net.Dialer). Tests use it to
	// dial from inside a network namespace.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// KEBAPort is the UDP port Probe asks KEBA stations on with "report 1"
	// (default 7090; negative: no KEBA probe). KEBALocalPort is the local
	// port it asks from: KEBA firmware answers only to 7090 (the default).
	KEBAPort, KEBALocalPort int
	// ListenPacket opens the UDP socket of the KEBA probe (default:
	// net.ListenConfig). With a custom Dial and no ListenPacket the KEBA
	// probe is skipped, so it never runs outside the dialer's namespace.
	ListenPacket func(ctx context.Context, network, address string) (net.PacketConn, error)
	// Logger receives debug and warning records (default: discarded).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultTimeout     = 3 * time.Second
	DefaultConnTimeout = time.Second
	DefaultConcurrency = 128
	DefaultMaxPrefix   = 22
)

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConnTimeout <= 0 {
		o.ConnTimeout = DefaultConnTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxPrefix <= 0 || o.MaxPrefix > 32 {
		o.MaxPrefix = DefaultMaxPrefix
	}
	if len(o.Ports) == 0 {
		o.Ports = []int{80, 502}
	}
	if o.Registry == nil {
		o.Registry = Default
	}
	if o.KEBAPort == 0 {
		o.KEBAPort = 7090
	}
	if o.KEBALocalPort == 0 {
		o.KEBALocalPort = 7090
	}
	if o.ListenPacket == nil && o.Dial == nil {
		o.ListenPacket = (&net.ListenConfig{}).ListenPacket
	}
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err}
		}
		return c, nil
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Errors callers may test for with errors.Is.
var (
	// ErrSubnetTooLarge: Probe refuses a subnet beyond Options.MaxPrefix.
	ErrSubnetTooLarge = errors.New("subnet too large")
	// ErrNotIdentified: no fingerprinter recognised the device.
	ErrNotIdentified = errors.New("device not identified")
)

// connectError marks a connection that never opened.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// maxField is the longest device-provided text kept, in bytes.
const maxField = 64

// clean makes device-provided text safe to print and to put in YAML:
// printable characters only (no terminal escapes, no line breaks), no
// surrounding space, at most maxField bytes.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxField {
			break
		}
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// cleanIdentity applies clean to every field.
func cleanIdentity(id charger.Identity) charger.Identity {
	return charger.Identity{Brand: clean(id.Brand), Model: clean(id.Model),
		Serial: clean(id.Serial), Firmware: clean(id.Firmware)}
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	s = clean2(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// clean2 is clean without the length cap, for messages: every
// character that is not printable (C0 and C1 controls, which YAML refuses
// even in comments, among them) becomes a space.
func clean2(s string) string {
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
}
