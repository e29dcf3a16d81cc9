// Package kebamodbus drives KEBA KeContact P30 (c-series fw ≥ 3.10.42,
// x-series fw ≥ 1.11) and P40 chargers over Modbus TCP, and simulates one.
//
// It follows KEBA's "KeContact P30 Charging Station – Modbus TCP
// Programmers Guide", V1.02 (cited as KEBA with its section numbers), for
// registers 1000..1100 and 5004..5014. The phase switch (1550/1552,
// 5050/5052) and failsafe registers (1600/1602, 5016..5020) are not in
// V1.02: they come from evcc and OpenEMS (see shared notes §9b), and the
// failsafe semantics from KEBA's "UDP Programmers Guide" V2.01 §3.3.3.
// Tested against this package's simulator only; no hardware test yet.
//
// On the station: DIP switch DSW1.3 ON (then power-cycle); unit id 255;
// port 502.
//
// KEBA answers one value per request, so a full read costs a request per
// register. A poll takes three: the charging state, the power, and one
// rotating slot that alternates the cable state with the next of the
// slower values (currents, voltages, energy, offered current, error code,
// phases, failsafe timeout); the identity fills it on the first polls and
// hourly. Slow values are the last read: at 2 s polls each is at most
// 44 s old. After a command, or when the state changes, the slot reads
// what changed first.
//
// Control: 5004 (mA) sets the current; 5014 enables or disables a P30,
// a P40 is disabled with 5004 = 0. Phases: 5050 = 3 hands the phase switch
// (KeContact S10) to Modbus, then 5052 = 0/1 selects 1/3 phases.
// Watchdog: with a failsafe timeout (1602 > 0, or the failsafe_timeout
// option, which the driver writes at start) the station falls back to the
// failsafe current (1600) unless it hears from the master; the driver
// rewrites 5018 every third of the timeout (charger.Watchdogged) and puts
// its current back if the fallback happened anyway.
//
// VERIFY on hardware: the unit of 1036/1502 (Wh in KEBA V1.02, 0.1 Wh in
// evcc: see the energy_unit option); which writes re-arm the failsafe
// timer (the simulator: 5004, 5014, 5018); the exception for reads of
// several values or of unmapped registers (the simulator: illegal data
// address) and for out-of-range writes (illegal data value); 1100 reading
// 0 while disabled; the P40 firmware and phase-state encodings.
package kebamodbus

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "keba_modbus",
		Title:               "KEBA KeContact P30 / P40, Modbus TCP",
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
		Name:  "keba_modbus",
		Title: "KEBA KeContact P30 c-series, Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure a KEBA station.
type Options struct {
	// UnitID is the Modbus unit id (default 255, KEBA §2).
	UnitID int `yaml:"unit_id"`
	// FailsafeTimeout, in seconds (10..600), is written to the station at
	// start with FailsafeCurrent; 0 (default) keeps the station's own
	// setting, which the driver reads and keeps alive.
	FailsafeTimeout int `yaml:"failsafe_timeout"`
	// FailsafeCurrent is the current the station falls back to when the
	// failsafe timeout runs out, A: 0 stops charging, else 6..63.
	FailsafeCurrent float64 `yaml:"failsafe_current"`
	// PhaseSwitching offers 1/3-phase switching; it needs a KeContact S10
	// phase switch (default false).
	PhaseSwitching bool `yaml:"phase_switching"`
	// EnergyUnit is the unit of the energy registers: "Wh" (default, as
	// KEBA's guide V1.02 says) or "0.1Wh" (as evcc reads newer firmware).
	EnergyUnit string `yaml:"energy_unit"`
}

// DefaultOptions returns unit 255, the station's failsafe setting, no
// phase switching and energy in Wh.
func DefaultOptions() Options { return Options{UnitID: unitDefault, EnergyUnit: "Wh"} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 0 || o.UnitID > 255:
		return fmt.Errorf("keba_modbus: unit_id %d is not 0..255", o.UnitID)
	case o.FailsafeTimeout != 0 && (o.FailsafeTimeout < minFailsafeTimeout || o.FailsafeTimeout > maxFailsafeTimeout):
		return fmt.Errorf("keba_modbus: failsafe_timeout %d s is not 0 or %d..%d", o.FailsafeTimeout, minFailsafeTimeout, maxFailsafeTimeout)
	case !(o.FailsafeCurrent == 0 || o.FailsafeCurrent >= minCurrent && o.FailsafeCurrent <= maxCurrent):
		return fmt.Errorf("keba_modbus: failsafe_current %v A is not 0 or %g..%g", o.FailsafeCurrent, minCurrent, maxCurrent)
	case o.EnergyUnit != "" && o.EnergyUnit != "Wh" && o.EnergyUnit != "0.1Wh":
		return fmt.Errorf("keba_modbus: energy_unit %q is not Wh or 0.1Wh", o.EnergyUnit)
	}
	return nil
}

// identityEvery is how often the identity is re-read.
const identityEvery = time.Hour

// Charger is one KEBA station.
type Charger struct {
	log     *slog.Logger
	opts    Options
	maxAmps float64
	cl      *modbusx.Client
	kWh     float64 // kWh per energy register unit

	wmu sync.Mutex // serializes commands
	mu  sync.Mutex // guards what follows; no I/O under it
	// vals holds the last value read of each register.
	vals    map[uint16]uint32
	tick    int
	rot     int
	urgent  []uint16
	pending []uint16 // identity registers still to read
	identAt time.Time
	// What the driver keeps the station set to, once commanded.
	known, enabled bool
	amps           float64
	configured     bool // failsafe options written
	// Session energy: lifetime energy at plug-in.
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
	if o.UnitID == 0 {
		o.UnitID = unitDefault
	}
	addr := modbusx.HostPort(s.Address, defaultPort)
	c := &Charger{log: log.With("driver", "keba_modbus", "addr", addr), opts: o, maxAmps: 32,
		kWh: 0.001, vals: map[uint16]uint32{}}
	if o.EnergyUnit == "0.1Wh" {
		c.kWh = 0.0001
	}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	var err error
	c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout})
	if err != nil {
		return nil, fmt.Errorf("keba_modbus: %w", err)
	}
	return c, nil
}

// Poll reads the state, the power and one rotating slot (three requests).
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	if err := c.configure(ctx); err != nil {
		return charger.State{}, err
	}
	regs := []uint16{regState, regPower, c.nextSlot()}
	if err := c.read(ctx, regs...); err != nil {
		c.mu.Lock()
		c.identAt = time.Time{}
		c.urgent = append(c.urgent, regs[2]) // try the slot again
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("keba_modbus: poll: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := reading{vals: c.vals, kWh: c.kWh}
	st := r.state()
	c.session(r, &st)
	return st, nil
}

// read reads regs, one request each, planned by modbusx, into c.vals.
func (c *Charger) read(ctx context.Context, regs ...uint16) error {
	spans := make([]modbusx.Span, len(regs))
	for i, a := range regs {
		spans[i] = u32(a).Span()
	}
	plan, err := modbusx.NewPlan(planConfig(), spans...)
	if err != nil {
		return err
	}
	b, err := c.cl.ReadPlan(ctx, plan)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range regs {
		v, err := b.Uint(u32(a))
		if err != nil {
			return err
		}
		if old, seen := c.vals[regState]; a == regState && (!seen || old != uint32(v)) {
			// A state change: re-read what follows it, the error first.
			delete(c.vals, regError)
			if v == stateError {
				c.urgent = append([]uint16{regError}, c.urgent...)
			}
			c.urgent = append(c.urgent, regCable, regMaxCurrent)
		}
		c.vals[a] = uint32(v)
	}
	return nil
}

// nextSlot picks the third register of this poll.
func (c *Charger) nextSlot() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.identAt) >= identityEvery && len(c.pending) == 0 {
		c.pending, c.identAt = slices.Clone(identity), time.Now()
	}
	_, cableKnown := c.vals[regCable]
	switch {
	case !cableKnown:
		return regCable
	case len(c.urgent) > 0:
		a := c.urgent[0]
		c.urgent = c.urgent[1:]
		return a
	case len(c.pending) > 0:
		a := c.pending[0]
		c.pending = c.pending[1:]
		return a
	}
	c.tick++
	if c.tick%2 == 1 {
		return regCable
	}
	a := rotation[c.rot%len(rotation)]
	c.rot++
	return a
}

// session computes the session energy from the lifetime energy.
func (c *Charger) session(r reading, st *charger.State) {
	e, eok := r.energy()
	if cable, ok := r.vals[regCable]; ok {
		plugged := cable >= 5
		if eok && plugged && c.pluggedKnown && !c.plugged {
			c.baseKWh, c.haveBase = e, true
		}
		c.plugged, c.pluggedKnown = plugged, true
	}
	if c.haveBase && eok && e >= c.baseKWh {
		st.SessionEnergy = charger.Ptr(e - c.baseKWh)
	}
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
