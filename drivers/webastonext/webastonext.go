// Package webastonext drives the Webasto Next (also sold as Ampure Next)
// over Modbus TCP, and simulates one.
//
// It follows Webasto's "Modbus Specification Webasto NEXT" register list
// (Webasto_NEXT_Modbus_Register_1-00_external_V3), revision 3.00,
// 2022-04-27 (cited as SPEC); its facts were taken from public summaries
// and agree with nymea's webasto-next-registers.json. Tested against this
// package's simulator only; no hardware test yet. (The Webasto Unite is a
// Vestel EVC04: see package vestel.)
//
// On the charger, in the Webasto Charger Setup app: activate "HEMS" (home
// energy management). Port 502, unit id 255; every register is a holding
// register.
//
// A poll takes three requests: the status and meter block (1000..1037),
// the session energy (1502), and one rotating read: the current limits
// (1100..1108) on most polls, the safe current and communication timeout
// (2000..2002) once a minute. A value from the rotating read stays in use
// until it is read again.
//
// Control: the current is register 5004, whole amperes, write-only; 0
// pauses, and enabling writes the last current back. As 5004 cannot be
// read, the driver reports what it commanded (capped by the limit in
// 1100) and reports nothing before its first command. SetPower (5000, W)
// and StartSession/CancelSession (5006) are offered as methods beyond the
// charger contract. Watchdog: the EMS writes 1 to the life bit 6000 and
// the station resets it; without it for the communication timeout (2002)
// the station falls back to the safe current (2000). The driver writes it
// every quarter of the timeout (charger.Watchdogged), with the current it
// keeps, and makes the station's timeout match its own (com_timeout).
//
// Not in the sources, so VERIFY on hardware: voltages, serial and
// firmware (no register known); whether FC4 reads work as FC3 (evcc reads
// the currents with FC4; the simulator answers both); the exceptions for
// unmapped registers and rejected writes (the simulator answers illegal
// data address and illegal data value); whether 1502 is one register
// (nymea) or two; whether the station returns to the last current after a
// lapse (the simulator keeps the safe current until 5004 is written
// again, which every refresh does).
package webastonext

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
		Name:                "webasto_next",
		Title:               "Webasto Next, Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log, modbusx.Shared())
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "webasto_next",
		Title: "Webasto Next (11 kW), Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one Webasto Next.
type Options struct {
	// UnitID is the Modbus unit id (default 255, as SPEC requires).
	UnitID int `yaml:"unit_id"`
	// ComTimeout is the communication timeout the driver keeps the
	// station set to, in seconds (default 20). The life bit is written
	// every quarter of it. 0 leaves the station's setting alone and
	// assumes 20 s.
	ComTimeout int `yaml:"com_timeout"`
	// SafeCurrent is the current, in amperes, the station falls back to
	// when the life bit is not written in time; 0 (default) leaves the
	// station's setting alone.
	SafeCurrent int `yaml:"safe_current"`
}

// DefaultOptions returns the options of a station as delivered.
func DefaultOptions() Options {
	return Options{UnitID: defaultUnit, ComTimeout: defaultComTimeout}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("webasto_next: unit_id %d is not 1..255", o.UnitID)
	case o.ComTimeout < 0 || o.ComTimeout > 3600:
		return fmt.Errorf("webasto_next: com_timeout %d s is not 0..3600", o.ComTimeout)
	case o.SafeCurrent != 0 && (o.SafeCurrent < int(minCurrent) || o.SafeCurrent > int(maxCurrent)):
		return fmt.Errorf("webasto_next: safe_current %d A is not 0 or %g..%g", o.SafeCurrent, minCurrent, maxCurrent)
	}
	return nil
}

// Charger is one Webasto Next.
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
	limit           float64 // 1100, A; 0 unknown
	safe, comTimout int     // -1 unknown
	// What the driver keeps the station set to, once commanded.
	sp setpoint.Setpoint
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
	c := &Charger{log: log.With("driver", "webasto_next", "addr", addr), opts: o, maxAmps: maxCurrent, safe: -1, comTimout: -1}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "webasto_next", Min: minCurrent, Max: c.maxAmps, Round: math.Floor, Write: c.writeAmps}
	cfg := planConfig()
	plan := func(vs ...modbusx.Value) *modbusx.Plan {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			panic(fmt.Sprintf("webasto_next: static Plan: %v", err)) // a bug in this file
		}
		return p
	}
	c.statusPlan = plan(statusValues()...)
	var limits []modbusx.Value
	for a := uint16(regMaxCurrent); a < limitsEnd; a += 2 {
		limits = append(limits, modbusx.At(a, modbusx.Uint16))
	}
	c.rot = modbusx.Rotation{
		Slots: []*modbusx.Slot{{Name: "safe current and timeout", Every: time.Minute, Apply: c.applySettings,
			Plan: plan(modbusx.At(regSafeCurrent, modbusx.Uint16), modbusx.At(regComTimeout, modbusx.Uint16))}},
		Fallback: &modbusx.Slot{Name: "current limits", Plan: plan(limits...), Apply: c.applyLimits},
	}
	var err error
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("webasto_next: %w", err)
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
		return charger.State{}, fmt.Errorf("webasto_next: read status: %w", err)
	}
	st := decodeStatus(b).state()
	c.rot.Read(ctx, c.cl, &c.mu, c.log)
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Brand, st.Model = "Webasto", "Next"
	if amps, enabled, known := c.sp.State(); known {
		st.Enabled = charger.Ptr(enabled)
		limit := 0.0
		if enabled {
			limit = amps
			if c.limit > 0 {
				limit = min(limit, c.limit)
			}
		}
		st.CurrentLimit = charger.Ptr(limit)
		if !enabled && st.Status == charger.StatusConnected {
			st.Status = charger.StatusPaused
		}
	}
	return st, nil
}

func (c *Charger) applyLimits(b *modbusx.Block) {
	c.limit = 0
	if v, ok := u16(b, regMaxCurrent); ok && float64(v) <= maxAmps {
		c.limit = float64(v)
	}
}

func (c *Charger) applySettings(b *modbusx.Block) {
	c.safe, c.comTimout = -1, -1
	if v, ok := u16(b, regSafeCurrent); ok {
		c.safe = int(v)
	}
	if v, ok := u16(b, regComTimeout); ok {
		c.comTimout = int(v)
	}
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
