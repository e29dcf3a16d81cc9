// Package ocpp makes evbridge the OCPP central system (CSMS) of chargers
// that speak OCPP 1.6J or 2.0.1, and drives each charge point connector as
// an ordinary charger (driver ocpp). The core never speaks OCPP.
//
// Protocol references: Open Charge Alliance, "Open Charge Point Protocol
// 1.6" edition 2 and "OCPP-J 1.6 Specification"; "OCPP 1.6 Security
// Whitepaper" edition 2 (security profiles 1 and 2: HTTP Basic auth with
// the identity as user name, over ws:// or wss://); "OCPP 2.0.1" part 2
// and part 4. Facts as summarised in shared notes protocols.md §15. OCPP-J
// framing, message types and validation come from
// github.com/lorenzodonini/ocpp-go v0.18.0; the WebSocket server and the
// call dispatcher are ours (see transport.go and dispatcher.go for why).
//
// Shape:
//   - One CentralSystem per process (service "ocpp", config block `ocpp:`,
//     see ServerConfig) listens on :8887 for ws://host:8887[/prefix]/<id>.
//   - A charger entry `driver: ocpp`, `address: <chargeBoxId>`, options
//     connector (default 1) and password, is a Driver. Drivers and the
//     central system meet in a Registry keyed by identity
//     (DefaultRegistry): New registers the identity as expected (known,
//     with its password); Poll reads the session the central system
//     fills. Poll does no I/O and fails while the charge point is not
//     connected, so the core shows it offline.
//   - Current: a TxDefaultProfile on the connector for every setpoint, and
//     during a transaction also a TxProfile (chargers differ on whether a
//     default profile changes a running transaction). numberPhases is sent
//     only to charge points that report ConnectorSwitch3to1PhaseSupported.
//   - Enable/disable: disable is a 0 A profile. It pauses charging without
//     ending the transaction (session energy and authorization survive,
//     resuming is one more profile), which is what a solar controller needs.
//     RemoteStop would end the session and often need a re-plug;
//     ChangeAvailability(Inoperative) only takes effect after the running
//     transaction ends ("Scheduled"). Enable restores the setpoint and,
//     when a car waits without a transaction (Preparing), sends
//     RemoteStartTransaction with idTag "evbridge".
package ocpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "ocpp",
		Title:               "OCPP 1.6J / 2.0.1 charge point (evbridge is its central system)",
		DefaultPollInterval: 2 * time.Second,
		CheckAddress:        checkIdentity,
		NewOptions:          func() any { return &Options{Connector: 1} },
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
	charger.RegisterService(charger.Service{
		Name:       "ocpp",
		Title:      "OCPP central system",
		Drivers:    []string{"ocpp"},
		NewOptions: func() any { c := DefaultServerConfig(); return &c },
		Start: func(ctx context.Context, opts any, host charger.ServiceHost, log *slog.Logger) (func(), error) {
			cfg := DefaultServerConfig()
			if c, ok := opts.(*ServerConfig); ok && c != nil {
				cfg = *c
			}
			cs, err := NewCentralSystem(cfg, DefaultRegistry, host, log)
			if err != nil {
				return nil, err
			}
			if err := cs.Start(ctx); err != nil {
				return nil, err
			}
			return cs.Close, nil
		},
	})
}

// Options are a charger entry's `options:` for driver ocpp. The entry's
// address is the charge point identity (chargeBoxId): the last segment of
// the URL the charge point is configured with.
type Options struct {
	// Connector is the connector this charger entry drives (1..); a
	// charge point with two connectors is two charger entries.
	Connector int `yaml:"connector"`
	// Password is the charge point's HTTP Basic auth password (its OCPP
	// AuthorizationKey); empty admits it without one.
	Password string `yaml:"password"`
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	if o.Connector < 1 || o.Connector > maxConnector {
		return fmt.Errorf("ocpp: connector: want 1 to %d, got %d", maxConnector, o.Connector)
	}
	if strings.ContainsAny(o.Password, "\r\n") {
		return errors.New("ocpp: password must be a single line")
	}
	return nil
}

// Driver drives one connector of a charge point through the central
// system. It is safe for concurrent use.
type Driver struct {
	id      string
	conn    int
	reg     *Registry
	maxCur  float64
	timeout time.Duration
	log     *slog.Logger
	release func()

	mu sync.Mutex // one command at a time
}

// New builds a driver on DefaultRegistry; it does no I/O.
func New(s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	return NewWithRegistry(DefaultRegistry, s, o, log)
}

// NewWithRegistry builds a driver on reg (tests use their own registry).
func NewWithRegistry(reg *Registry, s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	if o == nil {
		o = &Options{Connector: 1}
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := checkIdentity(s.Address); err != nil {
		return nil, fmt.Errorf("ocpp: address must be the charge point identity (chargeBoxId): %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	return &Driver{id: s.Address, conn: o.Connector, reg: reg, maxCur: s.MaxCurrent, timeout: s.Timeout,
		log:     log.With("driver", "ocpp", "charger", s.Name, "charge_point", s.Address),
		release: reg.expect(s.Address, o.Password)}, nil
}

// live returns the charge point's session and link.
func (d *Driver) live() (*Session, link, error) {
	s := d.reg.session(d.id)
	if s != nil {
		if l, _ := s.current(); l != nil {
			return s, l, nil
		}
	}
	if !d.reg.served() {
		return nil, nil, fmt.Errorf("ocpp: %s: %w (no central system is running)", d.id, ErrNotConnected)
	}
	return nil, nil, fmt.Errorf("ocpp: %s: %w", d.id, ErrNotConnected)
}

// Poll returns the latest state the charge point reported. It does no I/O,
// except that stale meter values are asked for (TriggerMessage) in the
// background.
func (d *Driver) Poll(context.Context) (charger.State, error) {
	s, l, err := d.live()
	if err != nil {
		return charger.State{}, err
	}
	now := time.Now()
	s.mu.Lock()
	interval := s.caps.meterInterval
	if interval <= 0 {
		interval = time.Minute
	}
	st := s.stateLocked(d.conn, 3*interval, now)
	c := s.connector(d.conn)
	// Fresh values are asked for when the last ones predate a status
	// change (power follows a start or stop) or are overdue while charging.
	last := s.lastTrigger[d.conn]
	stale := c.meter.at.Before(c.statusAt) && last.Before(c.statusAt) ||
		c.status == "Charging" && now.Sub(c.meter.at) > 2*interval && now.Sub(last) > interval
	if stale {
		s.lastTrigger[d.conn] = now
	}
	s.mu.Unlock()
	if stale {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
			defer cancel()
			if err := l.trigger(ctx, triggerMeter, d.conn); err != nil {
				d.log.Debug("meter values trigger failed", "err", err)
			}
		}()
	}
	return st, nil
}

// CurrentRange is 6 A to the configured maximum (32 A when none), in
// 0.1 A steps: OCPP limits are decimal amperes.
func (d *Driver) CurrentRange() (min, max, step float64) {
	max = d.maxCur
	if max <= 0 {
		max = 32
	}
	return 6, max, 0.1
}

// SetCurrent offers amps, truncated to 0.1 A. While the connector is
// disabled the setpoint is only stored, and sent when it is enabled.
func (d *Driver) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, _ := d.CurrentRange()
	if math.IsNaN(amps) || amps < lo || amps > hi {
		return fmt.Errorf("ocpp: set current %v A: outside %v..%v A", amps, lo, hi)
	}
	amps = math.Floor(amps*10) / 10
	d.mu.Lock()
	defer d.mu.Unlock()
	s, l, err := d.live()
	if err != nil {
		return err
	}
	s.mu.Lock()
	c := s.connector(d.conn)
	disabled := c.enabled != nil && !*c.enabled
	phases, tx := c.phases, txOf(c)
	if disabled {
		c.limit = ptr(amps)
	}
	s.mu.Unlock()
	if disabled {
		return nil
	}
	if err := l.setLimit(ctx, d.conn, amps, phases, tx); err != nil {
		return fmt.Errorf("ocpp: set current %.1f A: %w", amps, err)
	}
	s.mu.Lock()
	c.limit = ptr(amps)
	s.mu.Unlock()
	return nil
}

// SetEnabled pauses charging with a 0 A profile, or restores the setpoint
// (and starts a transaction for a car that waits without one).
func (d *Driver) SetEnabled(ctx context.Context, enabled bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, l, err := d.live()
	if err != nil {
		return err
	}
	s.mu.Lock()
	c := s.connector(d.conn)
	phases, tx, status := c.phases, txOf(c), c.status
	amps := 0.0
	if enabled {
		_, amps, _ = d.CurrentRange()
		if c.limit != nil {
			amps = *c.limit
		}
	}
	s.mu.Unlock()
	if err := l.setLimit(ctx, d.conn, amps, phases, tx); err != nil {
		return fmt.Errorf("ocpp: set enabled %t: %w", enabled, err)
	}
	s.mu.Lock()
	c.enabled = ptr(enabled)
	if enabled {
		c.limit = ptr(amps)
	}
	s.mu.Unlock()
	if enabled && tx == "" && status == "Preparing" {
		if err := l.remoteStart(ctx, d.conn, remoteIDTag); err != nil {
			return fmt.Errorf("ocpp: set enabled true: start transaction: %w", err)
		}
	}
	return nil
}

// SetPhases asks for 1 or 3 phases through the profile's numberPhases;
// only charge points that report ConnectorSwitch3to1PhaseSupported can.
func (d *Driver) SetPhases(ctx context.Context, phases int) error {
	if phases != 1 && phases != 3 {
		return fmt.Errorf("ocpp: set phases %d: %w: only 1 or 3", phases, charger.ErrNotSupported)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, l, err := d.live()
	if err != nil {
		return err
	}
	s.mu.Lock()
	c := s.connector(d.conn)
	can, tx := s.caps.phaseSwitch, txOf(c)
	amps, send := 0.0, c.enabled == nil || *c.enabled
	if c.limit != nil {
		amps = *c.limit
	} else {
		_, amps, _ = d.CurrentRange()
	}
	s.mu.Unlock()
	if !can {
		return fmt.Errorf("ocpp: set phases %d: %w: the charge point does not report ConnectorSwitch3to1PhaseSupported",
			phases, charger.ErrNotSupported)
	}
	if send {
		if err := l.setLimit(ctx, d.conn, amps, phases, tx); err != nil {
			return fmt.Errorf("ocpp: set phases %d: %w", phases, err)
		}
	}
	s.mu.Lock()
	c.phases = phases
	s.mu.Unlock()
	return nil
}

// Reset asks the charge point for a soft reset (a reboot that ends
// transactions cleanly); the core exposes it as a button.
func (d *Driver) Reset(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, l, err := d.live()
	if err != nil {
		return err
	}
	if err := l.reset(ctx); err != nil {
		return fmt.Errorf("ocpp: reset: %w", err)
	}
	return nil
}

// Close tells the registry this driver is gone.
func (d *Driver) Close() error {
	d.release()
	return nil
}

func txOf(c *connector) string {
	if c.tx == nil {
		return ""
	}
	return c.tx.id
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.CurrentSetter    = (*Driver)(nil)
	_ charger.Enabler          = (*Driver)(nil)
	_ charger.PhaseSwitcher    = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
	_ charger.OptionsValidator = (*ServerConfig)(nil)
)
