// Package keba drives KEBA KeContact P20 (c-series), P30 (c- and x-series)
// and P40 wallboxes, and the BMW Wallbox built on them, over their UDP
// "SmartHome" interface on port 7090, and ships a simulator of the station
// beside the driver.
//
// Protocol reference: KEBA, "KeContact P30 UDP Programmers Guide" V2.01
// (§2.1 command delays, §2.2 port, §3.2 reports 1/2/3, currtime, §3.3 ena,
// curr, failsafe, §3.4 status messages), and KEBA, "KeContact P20 UDP
// Programmers Guide" V3.00 (§2.2 supported commands: no currtime on P20;
// §2.6 report examples; §2.7/2.8 "TCH-OK :done" confirms receipt only).
// DIP switch 1.3 must be ON for anything beyond "i" and "report 1".
//
// One poll is "report 2" (state, settings) and "report 3" (meter), two
// datagrams; "report 1" (identity) is added to the first poll and after a
// failure. The guide forbids repeating a command within t_COM_pause (5 s),
// so a poll within 5 s of the last one answers from the replies already
// held, updated by the status messages the station pushes on change.
// Every command to one station waits t_UDP_pause (100 ms) after the last,
// t_DIS_pause (2 s) after "ena 0". All stations share one UDP socket (see
// conn.go).
//
// The current is set with "currtime <mA> 1" (the guide recommends the
// non-permanent currtime over curr; 1 s is its shortest delay), or with
// "curr" on P20 firmware. Because currtime also ends an "ena 0" (P30 guide
// §3.3.1), a current set while the station is disabled is held and sent
// with the next enable. The failsafe (§3.3.3) is armed only when the
// options ask for it, and refreshed by re-sending the enable state the
// station already has.
//
// Choices where the guides are silent, each a VERIFY item on hardware:
// t_UDP_pause is kept per station and counted from the answer; a changed
// value is a new command, not a repeat; "TCH-ERR" is taken as a refusal;
// a phase counts as in use above 1 A; the current step offered is 0.1 A.
package keba

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "keba_udp",
		Title:               "KEBA KeContact P20/P30/P40 (UDP)",
		DefaultPollInterval: 5 * time.Second, // t_COM_pause: report 2 at most every 5 s
		DefaultPort:         Port,
		NewOptions:          func() any { return DefaultOptions() },
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

// Port is the station's UDP port, and the port it answers to.
const Port = 7090

// Options are the KEBA driver's own settings (the charger's `options:`).
type Options struct {
	// LocalPort is the UDP port evbridge receives answers on. KEBAs answer
	// to 7090 whatever port asked, so keep the default; another value only
	// suits a simulator, and 0 takes any free port.
	LocalPort int `yaml:"local_port"`
	// LocalIP binds that port on one local address only; empty means all.
	LocalIP string `yaml:"local_ip"`
	// CurrentCommand sets the current: currtime (the default; the setting
	// ends when the car is unplugged) or curr (for P20 firmware, which has
	// no currtime; the setting stays until the station restarts).
	CurrentCommand string `yaml:"current_command"`
	// FailsafeTimeout arms the station's failsafe: without a command for
	// this long (10s to 10m, whole seconds) it limits charging to
	// FailsafeCurrent, and evbridge refreshes it at half this interval.
	// 0, the default, leaves the station's own setting alone.
	FailsafeTimeout time.Duration `yaml:"failsafe_timeout"`
	// FailsafeCurrent is that limit in amperes, 6 to 63; 0 stops charging.
	FailsafeCurrent float64 `yaml:"failsafe_current"`
}

// DefaultOptions are the options an empty `options:` block gives.
func DefaultOptions() *Options {
	return &Options{LocalPort: Port, CurrentCommand: "currtime"}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	var errs []error
	if o.LocalPort < 0 || o.LocalPort > 65535 {
		errs = append(errs, fmt.Errorf("keba: local_port %d is not a UDP port", o.LocalPort))
	}
	if o.LocalIP != "" {
		if _, err := netip.ParseAddr(o.LocalIP); err != nil {
			errs = append(errs, fmt.Errorf("keba: local_ip %q is not an IP address", o.LocalIP))
		}
	}
	if o.CurrentCommand != "currtime" && o.CurrentCommand != "curr" {
		errs = append(errs, fmt.Errorf("keba: current_command %q: want currtime or curr", o.CurrentCommand))
	}
	t := o.FailsafeTimeout
	if t != 0 && (t < 10*time.Second || t > 600*time.Second || t%time.Second != 0) {
		errs = append(errs, fmt.Errorf("keba: failsafe_timeout %v: want 0 or whole seconds from 10s to 10m", t))
	}
	c := o.FailsafeCurrent
	if math.IsNaN(c) || c != 0 && (c < 6 || c > 63) {
		errs = append(errs, fmt.Errorf("keba: failsafe_current %v A: want 0 or 6 to 63", c))
	}
	if t == 0 && c != 0 {
		errs = append(errs, errors.New("keba: failsafe_current needs failsafe_timeout"))
	}
	return errors.Join(errs...)
}

const (
	defaultTimeout = 2 * time.Second
	minMilliAmps   = 6000  // IEC 61851 minimum; currtime/curr accept 6000..63000
	hwTop          = 32000 // "Curr HW" never exceeds 32000 mA (report 2 table)
)

// Driver talks to one KEBA station. It is safe for concurrent use.
type Driver struct {
	host    string
	port    uint16
	timeout time.Duration
	maxCur  float64
	opts    Options
	conn    *sharedConn
	log     *slog.Logger
	t       timing
	now     func() time.Time

	mu sync.Mutex // guards hw
	hw int        // "Curr HW" at the last poll, mA

	sem chan struct{} // one exchange at a time; guards what follows
	st  *station
	to  netip.AddrPort
	// next is the earliest moment the next command may go out.
	next time.Time
	sent map[string]sent
	r1   *report1
	r2   *report2
	r3   *report3
	got  [4]time.Time // when report n held now was asked for
	// wantEnabled and wantCurrent (mA) are what evbridge last commanded;
	// pending: wantCurrent still waits for the station to be enabled.
	wantEnabled *bool
	wantCurrent int
	pending     bool
	armed       bool
	closed      bool
}

// New builds a driver for s; it does no I/O.
func New(s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	if o == nil {
		o = DefaultOptions()
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	host, port, err := splitAddress(s.Address)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	laddr := net.JoinHostPort(o.LocalIP, strconv.Itoa(o.LocalPort))
	d := &Driver{
		host: host, port: port, timeout: timeout, maxCur: s.MaxCurrent, opts: *o,
		log: log.With("driver", "keba_udp", "charger", s.Name),
		t:   defaultTiming(), now: time.Now, sem: make(chan struct{}, 1), sent: map[string]sent{},
	}
	d.conn = sockets.acquire(laddr, d.log)
	if _, err := netip.ParseAddr(host); err == nil {
		// An IP is claimed at once so that a duplicate fails at start.
		if err := d.ensureStation(context.Background()); err != nil {
			sockets.release(d.conn)
			return nil, fmt.Errorf("keba: %w", err)
		}
	}
	return d, nil
}

func splitAddress(addr string) (string, uint16, error) {
	addr = strings.TrimSpace(addr)
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		host, p = strings.Trim(addr, "[]"), strconv.Itoa(Port)
	}
	port, perr := strconv.ParseUint(p, 10, 16)
	if host == "" || perr != nil || port == 0 || strings.ContainsAny(host, "/ ") {
		return "", 0, fmt.Errorf("keba: bad address %q", addr)
	}
	return host, uint16(port), nil
}

// Poll reads report 2 and report 3, and report 1 when the identity is not
// known yet.
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	if err := d.lock(ctx); err != nil {
		return charger.State{}, fmt.Errorf("keba: poll: %w", err)
	}
	defer d.unlock()
	st, err := d.poll(ctx)
	if err != nil {
		d.r1 = nil // the station may have been replaced or updated meanwhile
		if _, perr := netip.ParseAddr(d.host); perr != nil && d.st != nil {
			d.conn.unsubscribe(d.st) // a name may point elsewhere next time
			d.st = nil
		}
		return charger.State{}, fmt.Errorf("keba: poll: %w", err)
	}
	return st, nil
}

func (d *Driver) poll(ctx context.Context) (charger.State, error) {
	if err := d.ensureStation(ctx); err != nil {
		return charger.State{}, err
	}
	d.absorb()
	r2, err := d.fetch2(ctx)
	if err != nil {
		return charger.State{}, err
	}
	g, err := d.fetch(ctx, 3, d.r3 != nil)
	if err != nil {
		return charger.State{}, err
	}
	if g.fields != nil {
		if d.r3, err = parseReport3(g.fields); err != nil {
			return charger.State{}, err
		}
	}
	if d.r1 == nil || (r2.serial != "" && d.r1.serial != "" && r2.serial != d.r1.serial) {
		g, err := d.fetch(ctx, 1, false)
		if err != nil {
			return charger.State{}, err
		}
		if d.r1, err = parseReport1(g.fields); err != nil {
			return charger.State{}, err
		}
	}
	return state(d.r1, d.r2, d.r3), nil
}

// fetch2 reads report 2 and notices when the station lost what evbridge
// set. Holds sem.
func (d *Driver) fetch2(ctx context.Context) (*report2, error) {
	g, err := d.fetch(ctx, 2, d.r2 != nil)
	if err != nil {
		return nil, err
	}
	if g.fields == nil {
		return d.r2, nil
	}
	r2, err := parseReport2(g.fields)
	if err != nil {
		return nil, err
	}
	d.r2 = r2
	if r2.hasHW {
		d.mu.Lock()
		d.hw = r2.currHW
		d.mu.Unlock()
	}
	lost := failsafeTripped(r2) ||
		d.wantEnabled != nil && *d.wantEnabled != r2.enableUser ||
		d.wantCurrent > 0 && !d.pending && r2.currUser != d.wantCurrent && !(r2.hasTimer && r2.tmoCT > 0)
	if lost {
		d.forget()
	}
	if d.opts.FailsafeTimeout > 0 && r2.hasFailsafe &&
		(r2.tmoFS != int(d.opts.FailsafeTimeout/time.Second) || r2.currFS != milliAmps(d.opts.FailsafeCurrent)) {
		d.armed = false
	}
	return r2, nil
}

// fetch returns report n: fresh, or nothing (fields nil) when the one held
// is recent enough or asking again is not allowed yet. Holds sem.
func (d *Driver) fetch(ctx context.Context, n int, held bool) (datagram, error) {
	if held && d.now().Sub(d.got[n]) < d.t.com {
		return datagram{}, nil
	}
	cmd := "report " + strconv.Itoa(n)
	g, err := d.exchange(ctx, cmd, n)
	switch {
	case err == nil:
		d.got[n] = d.sent[cmd].at
	case errors.Is(err, errTooSoon) && held && d.now().Sub(d.got[n]) < staleMax && !d.failed(cmd):
		// Held back by another command's pause (the 2 s after "ena 0"),
		// not by a report the station left unanswered.
		return datagram{}, nil
	}
	return g, err
}

// failed reports whether cmd went out recently and got no answer.
func (d *Driver) failed(cmd string) bool {
	s, ok := d.sent[cmd]
	return ok && !s.ok
}

func milliAmps(a float64) int { return int(math.Round(a * 1000)) }
