// Package vestel drives Vestel EVC04 chargers (EVC04 Home Smart, Connect
// Plus) and the chargers built on the same firmware (Webasto and Ampure
// Unite, E.ON vBox) over Modbus TCP, and simulates one.
//
// It follows Vestel's "EVC04 Modbus TCP/IP Specification" (cited as SPEC):
// v1.8 for the register map, and v1.11/v1.12 (18.10.2024) for the phase
// switch register 405. The facts were taken from public summaries of those
// revisions and agree with nymea's evc04-registers.json. Tested against
// this package's simulator only; no hardware test yet.
//
// On the charger, in its web interface: set "Local Load Management" to
// Modbus TCP. Port 502, unit id 255, one master at a time (SPEC).
//
// A poll takes three requests: the status and meter block (input 1000..
// 1037), the session energy (input 1502..1503), and one rotating read: the
// dynamic charging current (holding 5004) on most polls; the identity
// strings, the installation's phases (404), the failsafe settings
// (2000..2002) and the phase switch (405) when due. A value from the
// rotating read stays in use until it is read again.
//
// Control: the current is holding 5004, whole amperes, 0 stops charging;
// enabling writes the last current back. Phases are holding 405 (0 one,
// 1 three), which the station resets to its default when the Modbus
// connection drops (SPEC v1.12). Watchdog: the EMS writes 1 to the alive
// register 6000, the station clears it; if it is not written within the
// failsafe timeout (2002, default 20 s) the station terminates the
// connection and applies the failsafe current (2000). The driver writes
// it every quarter of the timeout (charger.Watchdogged), together with the
// current and the phases it keeps, and makes the station's timeout match
// its own (the failsafe_timeout option).
//
// Not in the sources, so VERIFY on hardware: the exceptions for unmapped
// registers and rejected writes (the simulator answers illegal data
// address and illegal data value), whether reserved registers inside a
// block can be read (the plans bridge them), what 5004 reads after a
// failsafe and whether the station returns to it by itself (the simulator
// shows the failsafe current until 5004 is written again, which every
// refresh does), whether the installation register 404 reads 0/1 or the
// phase count (both are accepted). Also reported, not simulated: after a
// master drops, the station may refuse a new one for the failsafe
// timeout.
package vestel

import (
	"context"
	"fmt"
	"github.com/evbridge/evbridge/drivers/setpoint"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "vestel",
		Title:               "Vestel EVC04 / Webasto Unite, Modbus TCP",
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
		Name:  "vestel",
		Title: "Vestel EVC04 (three-phase), Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one EVC04.
type Options struct {
	// UnitID is the Modbus unit id (default 255, as SPEC requires).
	UnitID int `yaml:"unit_id"`
	// FailsafeTimeout is the alive-register timeout the driver keeps the
	// station set to, in seconds (default 20, SPEC's default). The alive
	// register is written every quarter of it. 0 leaves the station's
	// setting alone and assumes the default.
	FailsafeTimeout int `yaml:"failsafe_timeout"`
	// FailsafeCurrent is the current, in amperes, the station falls back
	// to when the alive register is not written in time; 0 (default)
	// leaves the station's setting alone.
	FailsafeCurrent int `yaml:"failsafe_current"`
	// PhaseSwitching offers 1/3-phase switching (register 405). It needs
	// firmware 3.187.0 or later and a three-phase installation (default
	// false).
	PhaseSwitching bool `yaml:"phase_switching"`
}

// DefaultOptions returns the options of a station as delivered.
func DefaultOptions() Options {
	return Options{UnitID: defaultUnit, FailsafeTimeout: defaultFailsafe}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("vestel: unit_id %d is not 1..255", o.UnitID)
	case o.FailsafeTimeout < 0 || o.FailsafeTimeout > 3600:
		return fmt.Errorf("vestel: failsafe_timeout %d s is not 0..3600", o.FailsafeTimeout)
	case o.FailsafeCurrent != 0 && (o.FailsafeCurrent < int(minCurrent) || o.FailsafeCurrent > int(maxCurrent)):
		return fmt.Errorf("vestel: failsafe_current %d A is not 0 or %g..%g", o.FailsafeCurrent, minCurrent, maxCurrent)
	}
	return nil
}

// Charger is one EVC04.
type Charger struct {
	log        *slog.Logger
	opts       Options
	maxAmps    float64
	cl         *modbusx.Client
	statusPlan *modbusx.Plan

	wmu sync.Mutex // serializes writes
	mu  sync.Mutex // guards everything below; no I/O under it
	rot modbusx.Rotation
	// The station as last read (or written).
	setpoint          float64
	setpointOK        bool
	phaseSwitch       int // 1 or 3; 0 unknown
	installPhases     int // 1 or 3; 0 unknown
	fsCurrent, fsTime int // -1 unknown
	identity          charger.Identity
	// What the driver keeps the station set to, once known.
	sp         setpoint.Setpoint
	wantPhases int
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
	c := &Charger{log: log.With("driver", "vestel", "addr", addr), opts: o, maxAmps: maxCurrent, fsCurrent: -1, fsTime: -1}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "vestel", Min: minCurrent, Max: c.maxAmps, Round: math.Floor, Write: c.writeAmps}
	cfg := planConfig()
	plan := func(vs ...modbusx.Value) *modbusx.Plan {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			panic(fmt.Sprintf("vestel: static Plan: %v", err)) // a bug in this file
		}
		return p
	}
	c.statusPlan = plan(statusValues()...)
	ids := identityValues()
	c.rot = modbusx.Rotation{
		Slots: []*modbusx.Slot{
			{Name: "identity", Plan: plan(ids[:4]...), Every: time.Hour, Apply: c.applyIdentity},
			{Name: "firmware", Plan: plan(ids[4]), Every: time.Hour, Apply: c.applyIdentity},
			{Name: "installation", Plan: plan(in(modbusx.At(regPhaseCount, modbusx.Uint16))), Every: time.Hour, Apply: c.applyInstall},
			{Name: "failsafe settings", Plan: plan(modbusx.At(regFailsafeCurrent, modbusx.Uint16), modbusx.At(regFailsafeTimeout, modbusx.Uint16)),
				Every: time.Minute, Apply: c.applyFailsafe},
		},
		Fallback: &modbusx.Slot{Name: "setpoint", Plan: plan(modbusx.At(regChargingCurrent, modbusx.Uint16)), Apply: c.applySetpoint},
	}
	if o.PhaseSwitching {
		c.rot.Slots = append(c.rot.Slots, &modbusx.Slot{Name: "phase switch", Plan: plan(modbusx.At(regPhaseSwitch, modbusx.Uint16)),
			Every: 10 * time.Second, Apply: c.applyPhaseSwitch})
	}
	var err error
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("vestel: %w", err)
	}
	return c, nil
}

// Poll reads the status block, the session energy and one rotating value.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	b, err := c.cl.ReadPlan(ctx, c.statusPlan)
	if err != nil {
		c.mu.Lock()
		c.rot.Reset()
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("vestel: read status: %w", err)
	}
	st := decodeStatus(b).state()
	c.rot.Read(ctx, c.cl, &c.mu, c.log)
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Identity = c.identity
	if st.Brand == "" {
		st.Brand = "Vestel"
	}
	if c.setpointOK {
		st.CurrentLimit = charger.Ptr(c.setpoint)
		st.Enabled = charger.Ptr(c.setpoint >= minCurrent)
		if !*st.Enabled && st.Status == charger.StatusConnected {
			st.Status = charger.StatusPaused
		}
	}
	switch {
	case c.phaseSwitch != 0:
		st.Phases = charger.Ptr(c.phaseSwitch)
	case c.installPhases != 0:
		st.Phases = charger.Ptr(c.installPhases)
	}
	return st, nil
}

func (c *Charger) applyIdentity(b *modbusx.Block) { decodeIdentity(b, &c.identity) }

func (c *Charger) applyInstall(b *modbusx.Block) {
	switch v, _ := u16(b, regPhaseCount); v {
	case 0:
		c.installPhases = 1
	case 1, 3: // 3: some firmware reports the count itself
		c.installPhases = 3
	}
}

func (c *Charger) applyFailsafe(b *modbusx.Block) {
	c.fsCurrent, c.fsTime = -1, -1
	if v, ok := hold16(b, regFailsafeCurrent); ok {
		c.fsCurrent = int(v)
	}
	if v, ok := hold16(b, regFailsafeTimeout); ok {
		c.fsTime = int(v)
	}
}

func (c *Charger) applyPhaseSwitch(b *modbusx.Block) {
	switch v, ok := hold16(b, regPhaseSwitch); {
	case !ok:
		c.phaseSwitch = 0
	case v == 0:
		c.phaseSwitch = 1
	case v == 1:
		c.phaseSwitch = 3
	}
}

// applySetpoint takes in 5004 and, the first time, adopts it: a restart
// of evbridge never changes what the station does.
func (c *Charger) applySetpoint(b *modbusx.Block) {
	v, ok := hold16(b, regChargingCurrent)
	if !ok || float64(v) > maxAmps {
		c.setpointOK = false
		return
	}
	c.setpoint, c.setpointOK = float64(v), true
	if c.sp.Adopt(c.setpoint) {
		c.log.Info("adopting the current the station holds", "amps", c.setpoint)
	}
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
