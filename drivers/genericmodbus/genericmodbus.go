// Package genericmodbus is the generic_modbus driver: a charger described
// in YAML (its registers, types, scaling, status values, write registers
// and watchdog) instead of code. It builds on drivers/modbusx, so a
// definition gets the same connection sharing, read planning, typed
// decoding and error mapping as the built-in Modbus drivers, and the same
// entities: each capability (current, enable, phases) is offered exactly
// when the definition describes it. The charger is always Watchdogged; its
// RefreshInterval is 0, which the core takes as "no refresh", unless the
// definition has a watchdog.
//
// The definition is the charger's `options:` block (see Options; the
// config loader decodes it strictly and reports unknown keys and bad
// types by line; Validate reports semantic problems by key path).
// examples/ holds built-in chargers described this way, each tested
// against the built-in driver's simulator.
//
// A poll reads, per unit id, the planned reads of every polled register;
// the unit holding the status register must answer, the others may fail
// (their values are left out and logged). The identity registers are
// read on the first poll, after a failed poll and every identity.refresh.
//
// State rules shared with the built-in drivers: a connected car with
// charging disabled reads as paused; without a session_energy register the
// session is counted from energy_total since the car was plugged in;
// negative energies and unavailable values are left out.
package genericmodbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// DriverName is the name used in config (`driver: generic_modbus`).
const DriverName = "generic_modbus"

func init() {
	charger.Register(charger.Driver{
		Name:                DriverName,
		Title:               "Generic Modbus TCP charger (YAML definition)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         502,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, ok := opts.(*Options)
			if !ok || o == nil {
				return nil, fmt.Errorf("%s: the charger needs a definition in options", DriverName)
			}
			c, err := New(s, *o, log, modbusx.Shared())
			if err != nil {
				return nil, err
			}
			return c.Device(), nil
		},
	})
}

// Charger drives one charger from its definition.
type Charger struct {
	d       *def
	log     *slog.Logger
	maxAmps float64
	clients map[uint8]*modbusx.Client

	wmu sync.Mutex // serializes setpoint writes
	mu  sync.Mutex // guards what follows; no I/O under it
	// What the driver keeps the device set to, once known.
	known   bool
	amps    float64
	enabled bool
	haveEn  bool // enabled was commanded or adopted
	// Identity, re-read every d.idEvery.
	identity charger.Identity
	identAt  time.Time
	identErr string
	auxErr   map[uint8]string
	// Session energy counted from the total since plug-in.
	plugged, pluggedKnown bool
	baseKWh               float64
	haveBase              bool
}

// New builds the driver on pool; it does no I/O.
func New(s charger.Settings, o Options, log *slog.Logger, pool *modbusx.Pool) (*Charger, error) {
	d, err := compile(&o)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := modbusx.HostPort(s.Address, 502)
	c := &Charger{d: d, log: log.With("driver", DriverName, "addr", addr), clients: map[uint8]*modbusx.Client{},
		auxErr: map[uint8]string{}, maxAmps: d.curMax}
	if s.MaxCurrent >= d.curMin {
		c.maxAmps = min(s.MaxCurrent, d.curMax)
	}
	units := append([]uint8{d.unit}, d.units...)
	for _, f := range []*field{d.setCur, d.enableReg, d.phaseReg, d.wdReg} {
		if f != nil {
			units = append(units, f.unit)
		}
	}
	for _, u := range units {
		if c.clients[u] != nil {
			continue
		}
		cl, err := pool.Client(modbusx.Endpoint{Address: addr, Framing: d.framing, Unit: u, Timeout: s.Timeout})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", DriverName, err)
		}
		c.clients[u] = cl
	}
	return c, nil
}

// RequestsPerPoll is how many reads a poll takes when the identity is
// not due (it adds Len of its plans when it is).
func (c *Charger) RequestsPerPoll() int {
	n := 0
	for _, p := range c.d.polls {
		n += p.Len()
	}
	return n
}

// Poll reads every polled register and builds the state.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	blocks := map[uint8]*modbusx.Block{}
	for i, u := range c.d.units {
		p := c.d.polls[u]
		if p == nil {
			continue
		}
		b, err := c.clients[u].ReadPlan(ctx, p)
		if err != nil && i == 0 {
			c.mu.Lock()
			c.identAt = time.Time{} // re-read the identity once it is back
			c.mu.Unlock()
			return charger.State{}, fmt.Errorf("%s: %w", DriverName, err)
		}
		c.aux(u, err)
		if err == nil {
			blocks[u] = b
		}
	}
	st := c.decode(blocks)
	c.pollIdentity(ctx, &st)
	return st, nil
}

// aux logs a failure of a secondary unit once, until it recovers.
func (c *Charger) aux(u uint8, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	changed := c.auxErr[u] != msg
	c.auxErr[u] = msg
	c.mu.Unlock()
	if changed && err != nil {
		c.log.Warn("registers of a secondary unit unreadable", "unit", u, "err", err)
	}
}

// pollIdentity reads the identity registers when due; a failure only
// keeps the last identity.
func (c *Charger) pollIdentity(ctx context.Context, st *charger.State) {
	c.mu.Lock()
	due := time.Since(c.identAt) >= c.d.idEvery
	c.mu.Unlock()
	blocks := map[uint8]*modbusx.Block{}
	var failed error
	if due {
		for u, p := range c.d.idents {
			b, err := c.clients[u].ReadPlan(ctx, p)
			if err != nil {
				failed = err
				break
			}
			blocks[u] = b
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if due && failed == nil {
		get := func(f *field) string {
			if f == nil {
				return ""
			}
			return f.text(blocks[f.unit])
		}
		id := charger.Identity{Brand: c.d.brand, Model: c.d.model, Serial: get(c.d.serial), Firmware: get(c.d.firmware)}
		if m := get(c.d.modelReg); m != "" {
			id.Model = m
		}
		c.identity, c.identAt = id, time.Now()
	}
	if failed != nil && c.identErr != failed.Error() {
		c.log.Warn("identity registers unreadable", "err", failed)
	}
	if due {
		c.identErr = ""
		if failed != nil {
			c.identErr = failed.Error()
		}
	}
	st.Identity = c.identity
}

// Close releases the connections.
func (c *Charger) Close() error {
	var errs []error
	for _, cl := range c.clients {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}
