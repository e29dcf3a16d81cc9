// Package alfen drives Alfen Eve chargers of the NG9xx platform (Eve
// Single Pro-line and S-line, Eve Double Pro-line) over Modbus TCP, and
// simulates one.
//
// It follows Alfen's "Implementation of Modbus Slave TCP/IP for Alfen
// NG9xx platform", T. Nederlof, version 2.3, 30-10-2020 (cited as ALF
// with its section numbers). Tested against this package's simulator
// only; no hardware test yet.
//
// On the station, with the ACE Service Installer (ALF §1.1, §2): the
// "Active load balancing" licence; Active balancing with data source
// "Energy Management System"; TCP/IP EMS mode "Socket"; "Allow reading"
// and "Allow writing maximum currents"; a Validity time (default 60 s),
// which the `validity` option must match; for 1/3-phase switching,
// "Allow 1- and 3-phased charging". Modbus is on the wired Ethernet port
// only, port 502, at most two masters at once.
//
// Units: 1 is the only (or left) socket, 2 the right socket of an Eve
// Double, 200 the station (identity, temperature). A poll reads the
// socket meter (300..377) and status (1200..1215) and one station block:
// the identity (100..167) on the first poll, after a failed poll and
// hourly, else the station status (1102..1105): three requests.
//
// Control. The current is the "Modbus Slave Max Current" (1210, FLOAT32
// A, one FC16 write). It stays in force for the validity time only, then
// the socket falls back to its safe current (1212), so the driver
// rewrites it (charger.Watchdogged, every third of the validity). The
// document has no enable register: disabling writes 0 A, which offers
// the car no pilot PWM (states B1/C1); enabling writes the last current
// back. At start the driver writes nothing: it adopts a setpoint the
// station still holds and keeps it alive until told otherwise. Phases
// are register 1215 (1 or 3).
//
// Not in the document, so VERIFY on hardware: the exception for unmapped
// registers and for rejected writes (the simulator answers illegal data
// address, and illegal data value for out-of-range values); whether 0 A
// and fractional amps are accepted (evcc relies on both); the value 1210
// reads after the validity expired; the accepted current range.
package alfen

import (
	"context"
	"errors"
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
		Name:                "alfen",
		Title:               "Alfen Eve (NG9xx), Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o := charger.OptionsOr(opts, DefaultOptions)
			c, err := New(s, o, log, modbusx.Shared())
			switch {
			case err != nil:
				return nil, err
			case o.PhaseSwitching:
				return c, nil
			}
			return fixedPhases{c}, nil
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "alfen",
		Title: "Alfen Eve Single (NG9xx), Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one socket of an Alfen station.
type Options struct {
	// Socket is the socket to drive: 1 for an Eve Single or the left
	// socket of an Eve Double, 2 for the right socket.
	Socket int `yaml:"socket"`
	// UnitID overrides the socket's Modbus unit id (default: the socket
	// number).
	UnitID int `yaml:"unit_id"`
	// StationUnitID is the unit id of the station registers (default 200).
	StationUnitID int `yaml:"station_unit_id"`
	// Validity is the "Validity time" set on the station, in seconds
	// (default 60). The setpoint is rewritten every third of it.
	Validity int `yaml:"validity"`
	// PhaseSwitching offers 1/3-phase switching; it needs "Allow 1- and
	// 3-phased charging" ticked on the station (default false).
	PhaseSwitching bool `yaml:"phase_switching"`
}

// DefaultOptions returns the options of socket 1 with the station's
// default validity time.
func DefaultOptions() Options {
	return Options{Socket: 1, StationUnitID: stationUnit, Validity: defaultValidity}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.Socket != 1 && o.Socket != 2:
		return fmt.Errorf("alfen: socket must be 1 or 2, not %d", o.Socket)
	case o.UnitID < 0 || o.UnitID > 255:
		return fmt.Errorf("alfen: unit_id %d is not 1..255", o.UnitID)
	case o.StationUnitID < 0 || o.StationUnitID > 255:
		return fmt.Errorf("alfen: station_unit_id %d is not 1..255", o.StationUnitID)
	case o.Validity < 1 || o.Validity > 86400:
		return fmt.Errorf("alfen: validity %d s is not 1..86400", o.Validity)
	}
	return nil
}

// identityEvery is how often the identity block is re-read.
const identityEvery = time.Hour

// Charger is one socket of an Alfen station.
type Charger struct {
	log      *slog.Logger
	opts     Options
	maxAmps  float64
	sock     *modbusx.Client
	station  *modbusx.Client
	sockPlan *modbusx.Plan
	idPlan   *modbusx.Plan
	statPlan *modbusx.Plan

	wmu sync.Mutex // serializes setpoint writes
	mu  sync.Mutex // guards everything below; I/O is never done under it
	// What the driver keeps the station set to, once known.
	sp setpoint.Setpoint
	// validSeen is the longest remaining validity a poll saw, s.
	validSeen uint32
	identity  charger.Identity
	identAt   time.Time
	auxErr    string // last station-unit error, logged once
	// Session energy: lifetime Wh at plug-in, known once a plug-in is seen.
	plugged, pluggedKnown bool
	baseWh                float64
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
	unit := o.UnitID
	if unit == 0 {
		unit = o.Socket
	}
	station := o.StationUnitID
	if station == 0 {
		station = stationUnit
	}
	addr := modbusx.HostPort(s.Address, defaultPort)
	c := &Charger{log: log.With("driver", "alfen", "addr", addr, "socket", o.Socket), opts: o, maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "alfen", Min: minCurrent, Max: c.maxAmps, Write: c.writeAmps}
	cfg := planConfig()
	var err error
	if c.sockPlan, err = modbusx.NewPlan(cfg, modbusx.Spans(socketValues()...)...); err != nil {
		return nil, fmt.Errorf("alfen: socket plan: %w", err)
	}
	if c.idPlan, err = modbusx.NewPlan(cfg, modbusx.Spans(identityValues()...)...); err != nil {
		return nil, fmt.Errorf("alfen: identity plan: %w", err)
	}
	if c.statPlan, err = modbusx.NewPlan(cfg, modbusx.Spans(stationValues()...)...); err != nil {
		return nil, fmt.Errorf("alfen: station plan: %w", err)
	}
	ep := modbusx.Endpoint{Address: addr, Unit: uint8(unit), Timeout: s.Timeout}
	if c.sock, err = pool.Client(ep); err != nil {
		return nil, fmt.Errorf("alfen: %w", err)
	}
	ep.Unit = uint8(station)
	if c.station, err = pool.Client(ep); err != nil {
		c.sock.Close()
		return nil, fmt.Errorf("alfen: %w", err)
	}
	return c, nil
}

// Poll reads the socket's meter and status, and one station block.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	b, err := c.sock.ReadPlan(ctx, c.sockPlan)
	if err != nil {
		c.mu.Lock()
		c.identAt = time.Time{} // re-read the identity once it is back
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("alfen: read socket %d: %w", c.opts.Socket, err)
	}
	r := decodeSocket(b)
	st := r.state()
	c.track(r, &st)
	c.pollStation(ctx, &st)
	return st, nil
}

// track adopts the station's setpoint at start, learns the validity and
// computes the session energy.
func (c *Charger) track(r reading, st *charger.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.validLeft > c.validSeen {
		c.validSeen = r.validLeft
	}
	if r.setpointValid() && c.sp.Adopt(r.setpoint) {
		c.log.Info("adopting the setpoint the station holds", "amps", r.setpoint)
	}
	if iec, _ := mode3State(r.mode3); iec != charger.IECUnknown {
		plugged := r.plugged()
		if r.energyOK && plugged && c.pluggedKnown && !c.plugged {
			c.baseWh, c.haveBase = r.energyWh, true
		}
		c.plugged, c.pluggedKnown = plugged, true
	}
	if c.haveBase && r.energyOK && r.energyWh >= c.baseWh {
		st.SessionEnergy = charger.Ptr((r.energyWh - c.baseWh) / 1000)
	}
}

// pollStation reads identity or station status from the station unit.
// Its failures do not fail the poll: the socket is what matters.
func (c *Charger) pollStation(ctx context.Context, st *charger.State) {
	c.mu.Lock()
	wantID := time.Since(c.identAt) >= identityEvery
	c.mu.Unlock()
	plan := c.statPlan
	if wantID {
		plan = c.idPlan
	}
	b, err := c.station.ReadPlan(ctx, plan)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.auxErr {
			c.log.Warn("station registers unreadable", "err", err)
			c.auxErr = msg
		}
	} else {
		c.auxErr = ""
		if wantID {
			c.identity, c.identAt = decodeIdentity(b, c.opts.Socket), time.Now()
		} else if t, err := b.Float(modbusx.At(regTemperature, modbusx.Float32)); err == nil {
			st.Temperature = charger.Ptr(t)
		}
	}
	st.Identity = c.identity
}

// Close releases the connections.
func (c *Charger) Close() error {
	return errors.Join(c.sock.Close(), c.station.Close())
}
