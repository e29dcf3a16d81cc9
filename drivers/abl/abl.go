// Package abl drives ABL eM4 Single and Twin wallboxes (SBCx controller)
// over Modbus TCP, and simulates one.
//
// No manufacturer register map for the eM4's Modbus TCP interface was
// found; the registers follow evcc's abl-em4 driver (evcc-io/evcc @
// b29b49e3, facts only, see shared notes §4c), and the state byte follows
// ABL's "EVCC2/3 – API subset for external applications", doc 05 0015 20
// Rev. B, §3.4 (cited as ABL), which the eM4 shares. Everything here is
// therefore VERIFY on hardware. Tested against this package's simulator
// only.
//
// Unit id 255 by default; a Twin's second connector is the same unit
// with every register 0x100 higher. A poll reads the meter block
// (0x3001..0x3010: currents, voltages, power, energy) and the status
// block (0x3031 state, 0x3032 current): two requests. No identity
// registers are known: the identity is brand and model only, so set a
// stable name in the config.
//
// Control: 0x3032 is the current in 0.1 A; 0 disables the connector and
// enabling writes the last current back. The eM4 has no phase switch.
// Watchdog: none is documented for the eM4. The EVCC2/3 family falls to
// state F4 when upstream communication stops for a time the document
// does not give; if the box is set up that way, set watchdog_timeout and
// the driver talks to it every third of it (charger.Watchdogged) and
// writes its current back after an F4.
package abl

import (
	"context"
	"fmt"
	"github.com/evbridge/evbridge/drivers/setpoint"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "abl_em4",
		Title:               "ABL eM4 Single/Twin, Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o := charger.OptionsOr(opts, DefaultOptions)
			c, err := New(s, o, log, modbusx.Shared())
			switch {
			case err != nil:
				return nil, err
			case o.WatchdogTimeout > 0:
				return c, nil
			}
			return noWatchdog{c}, nil
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "abl_em4",
		Title: "ABL eM4 Single, Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one connector of an eM4.
type Options struct {
	// Connector is 1 (eM4 Single, or a Twin's first) or 2.
	Connector int `yaml:"connector"`
	// UnitID is the Modbus unit id (default 255).
	UnitID int `yaml:"unit_id"`
	// WatchdogTimeout is the box's upstream communication timeout, in
	// seconds, if it has one set up (default 0: none).
	WatchdogTimeout int `yaml:"watchdog_timeout"`
}

// DefaultOptions returns connector 1 at unit 255, no watchdog.
func DefaultOptions() Options { return Options{Connector: 1, UnitID: unitDefault} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.Connector != 1 && o.Connector != 2:
		return fmt.Errorf("abl_em4: connector must be 1 or 2, not %d", o.Connector)
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("abl_em4: unit_id %d is not 1..255", o.UnitID)
	case o.WatchdogTimeout < 0 || o.WatchdogTimeout > 3600:
		return fmt.Errorf("abl_em4: watchdog_timeout %d s is not 0..3600", o.WatchdogTimeout)
	}
	return nil
}

// Charger is one connector.
type Charger struct {
	log     *slog.Logger
	opts    Options
	off     uint16
	maxAmps float64
	cl      *modbusx.Client
	plan    *modbusx.Plan

	wmu sync.Mutex // serializes writes
	mu  sync.Mutex // guards what follows; no I/O under it
	// What the driver keeps the connector set to, once known.
	sp setpoint.Setpoint
	// Session energy: lifetime kWh at plug-in.
	plugged, pluggedKnown bool
	baseKWh               float64
	haveBase              bool
}

// New builds the driver on pool; it does no I/O.
func New(s charger.Settings, o Options, log *slog.Logger, pool *modbusx.Pool) (*Charger, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := modbusx.HostPort(s.Address, defaultPort)
	c := &Charger{log: log.With("driver", "abl_em4", "addr", addr, "connector", o.Connector), opts: o,
		off: connectorStride * uint16(o.Connector-1), maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "abl_em4", Min: minCurrent, Max: c.maxAmps, Write: c.writeAmps}
	var err error
	if c.plan, err = modbusx.NewPlan(planConfig(c.off), modbusx.Spans(values(c.off)...)...); err != nil {
		return nil, fmt.Errorf("abl_em4: plan: %w", err)
	}
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("abl_em4: %w", err)
	}
	return c, nil
}

// Poll reads the meter and status blocks (two requests).
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	b, err := c.cl.ReadPlan(ctx, c.plan)
	if err != nil {
		return charger.State{}, fmt.Errorf("abl_em4: read connector %d: %w", c.opts.Connector, err)
	}
	r := decode(b, c.off)
	st := r.state()
	st.Identity = charger.Identity{Brand: "ABL", Model: "eM4"}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.stateOK {
		plugged := st.IEC == charger.IECB || st.IEC == charger.IECC
		if r.kWhOK && plugged && c.pluggedKnown && !c.plugged {
			c.baseKWh, c.haveBase = r.kWh, true
		}
		c.plugged, c.pluggedKnown = plugged, true
	}
	if c.haveBase && r.kWhOK && r.kWh >= c.baseKWh {
		st.SessionEnergy = charger.Ptr(r.kWh - c.baseKWh)
	}
	return st, nil
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
