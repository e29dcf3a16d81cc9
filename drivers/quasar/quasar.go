// Package quasar drives the Wallbox Quasar 1 (bidirectional DC charger)
// over Modbus TCP, and simulates one.
//
// It follows the Quasar 1 register list that Wallbox Chargers S.L.
// provided "as is" to the V2G Liberty project (cited as MAP), as shipped
// in V2G-liberty/addon-v2g-liberty,
// v2g-liberty/rootfs/root/appdaemon/apps/v2g_liberty/chargers/wallbox_quasar_1.py
// and its Modbus client v2g_modbus_client.py (see also evbridge's
// protocol notes §6). MAP is a third-party copy, not a published
// manufacturer document: the whole map is VERIFY until checked on a
// device. Tested models: none on hardware; this package's simulator only.
//
// On the charger: how Modbus TCP is switched on is in no source at hand
// (MAP and V2G Liberty assume it is on; VERIFY, probably the installer
// settings of the myWallbox app). The charger answers on port 502, unit
// id 1. Every register is a holding register (FC3 reads, FC6 writes),
// one 16-bit word, signed where it carries a direction.
//
// A poll takes three requests: 526..542 (actual power, state, SoC and
// the four error registers; 527..536 are not in MAP and are read across,
// as V2G Liberty does), 256..258 (lock, action, current setpoint), and
// one rotating read: the control registers 81..83 on most polls, the
// idle timeout 88 once a minute and the identity 1..3 once an hour. A
// value from the rotating read stays in use until it is read again.
//
// Power is register 526, signed: negative while the car discharges
// (state 11), and so published (the solar controller counts a negative
// power as no draw). The SoC (538) is the car's, published as the
// vehicle SoC; 0 reads as "none" (the charger shows 0 without a car).
//
// Control: nothing but register 81 may be written before it reads 1
// (remote control). A command takes remote control (81 = 1) and
// current setpoints (83 = 0) where the driver does not know it holds
// them, then writes the current to 258 in whole amperes and 1 (start) to
// the action register 257; disabling writes 2 (stop) to 257, which MAP
// documents (state 4, paused), rather than 0 A, which MAP does not. The
// driver never writes a negative (discharging) value and never the power
// setpoint 260; it refuses currents outside 6 A..max_current before
// anything is sent. No phase switching: MAP has none (the Quasar 1 is
// single-phase).
//
// Watchdog: without Modbus traffic for the idle timeout (88, seconds) the
// charger goes idle. The driver writes its own timeout (idle_timeout) to
// 88 once it holds control, and rewrites the setpoint every quarter of it
// (charger.Watchdogged); before any command it adopts what a remotely
// controlled charger does, and leaves a user-controlled one alone.
//
// VERIFY on hardware: the whole map (third-party copy); unit id 1 (from
// V2G Liberty's client); whether 527..536 and 84..87 read as a block;
// what "idle" means after the timeout (the simulator: back to user
// control, charging stopped) and whether 0 in 88 disables it; the
// exceptions (the simulator answers illegal data address outside the map
// and illegal data value for bad values or writes without remote
// control); the coding of firmware (1, shown as a number) and serial
// (2..3, shown as the 32-bit number high word first); the lowest current
// (6 A, from the 1380 W minimum of 514); whether 257 reads back the last
// action.
package quasar

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/setpoint"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "wallbox_quasar",
		Title:               "Wallbox Quasar 1 (bidirectional DC), Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log, modbusx.Shared())
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "wallbox_quasar",
		Title: "Wallbox Quasar 1 (7.4 kW bidirectional DC), Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one Quasar 1.
type Options struct {
	// UnitID is the Modbus unit id (default 1).
	UnitID int `yaml:"unit_id"`
	// IdleTimeout is the Modbus idle timeout, in seconds, the driver
	// keeps the charger set to once it controls it (default 30); the
	// setpoint is rewritten every quarter of it. 0 leaves the charger's
	// setting alone and assumes 30 s.
	IdleTimeout int `yaml:"idle_timeout"`
}

// DefaultOptions returns unit 1 and a 30 s idle timeout.
func DefaultOptions() Options {
	return Options{UnitID: defaultUnit, IdleTimeout: defaultIdleTimeout}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("wallbox_quasar: unit_id %d is not 1..255", o.UnitID)
	case o.IdleTimeout != 0 && (o.IdleTimeout < 2 || o.IdleTimeout > 3600):
		return fmt.Errorf("wallbox_quasar: idle_timeout %d s is not 0 or 2..3600", o.IdleTimeout)
	}
	return nil
}

// Charger is one Quasar 1.
type Charger struct {
	log        *slog.Logger
	opts       Options
	maxAmps    float64
	cl         *modbusx.Client
	statusPlan *modbusx.Plan
	actionPlan *modbusx.Plan
	ctrlPlan   *modbusx.Plan

	wmu sync.Mutex // serializes writes
	mu  sync.Mutex // guards everything below; no I/O under it
	rot modbusx.Rotation
	// The charger as last read.
	ctrl             controlRegs
	firmware, serial string
	// held is true while the driver knows it holds remote control with
	// current setpoints (81 = 1, 83 = 0).
	held bool
	// What the driver keeps the charger set to, once commanded.
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
	c := &Charger{log: log.With("driver", "wallbox_quasar", "addr", addr), opts: o, maxAmps: maxCurrent, ctrl: unknownControl()}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "wallbox_quasar", Min: minCurrent, Max: c.maxAmps, Round: math.Floor, Write: c.writeAmps}
	cfg := planConfig()
	plan := func(vs ...modbusx.Value) *modbusx.Plan {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			panic(fmt.Sprintf("wallbox_quasar: static Plan: %v", err)) // a bug in registers.go
		}
		return p
	}
	c.statusPlan = plan(statusValues()...)
	c.actionPlan = plan(actionValues()...)
	c.ctrlPlan = plan(modbusx.At(regControl, modbusx.Uint16), modbusx.At(regAutostart, modbusx.Uint16),
		modbusx.At(regSetpointTyp, modbusx.Uint16))
	c.rot = modbusx.Rotation{
		Slots: []*modbusx.Slot{
			{Name: "identity", Every: time.Hour, Apply: c.applyIdentity,
				Plan: plan(modbusx.At(regFirmware, modbusx.Uint16), modbusx.At(regSerialHi, modbusx.Uint32))},
			{Name: "idle timeout", Every: time.Minute, Apply: c.applyIdle,
				Plan: plan(modbusx.At(regIdleTimeout, modbusx.Uint16))},
		},
		Fallback: &modbusx.Slot{Name: "control registers", Plan: c.ctrlPlan, Apply: c.applyControl},
	}
	var err error
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("wallbox_quasar: %w", err)
	}
	return c, nil
}

// Poll reads the status block, the setpoint registers and one rotating
// group.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	b, err := c.cl.ReadPlan(ctx, c.statusPlan)
	if err == nil {
		err = c.readInto(ctx, c.actionPlan, b)
	}
	if err != nil {
		c.mu.Lock()
		c.rot.Reset()
		c.held = false // the charger may have gone idle meanwhile
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("wallbox_quasar: read status: %w", err)
	}
	r := decodeStatus(b)
	c.rot.Read(ctx, c.cl, &c.mu, c.log)
	c.mu.Lock()
	defer c.mu.Unlock()
	st := r.state(c.ctrl)
	if r.socOK {
		st.VehicleSoC = charger.Ptr(r.soc)
	}
	st.Brand, st.Model, st.Firmware, st.Serial = "Wallbox", "Quasar 1", c.firmware, c.serial
	return st, nil
}

// readInto runs every request of p and adds what they return to b.
func (c *Charger) readInto(ctx context.Context, p *modbusx.Plan, b *modbusx.Block) error {
	for _, r := range p.Requests() {
		regs, err := c.cl.Read(ctx, r.Table, r.Addr, r.Count)
		if err != nil {
			return err
		}
		b.Put(r.Table, r.Addr, regs)
	}
	return nil
}

func (c *Charger) applyControl(b *modbusx.Block) {
	was := c.ctrl.mode
	c.ctrl = decodeControl(b, c.ctrl)
	if c.ctrl.mode != controlRemote || c.ctrl.typ != typeCurrent {
		if c.held {
			c.log.Warn("charger left remote current control (idle timeout or another client?)",
				"control", c.ctrl.mode, "setpoint_type", c.ctrl.typ, "was", was)
		}
		c.held = false
	}
}

func (c *Charger) applyIdle(b *modbusx.Block) {
	c.ctrl.idle = -1
	if v, ok := u16(b, regIdleTimeout); ok {
		c.ctrl.idle = int(v)
	}
}

func (c *Charger) applyIdentity(b *modbusx.Block) {
	if v, ok := u16(b, regFirmware); ok {
		c.firmware = strconv.Itoa(int(v))
	}
	if v, err := b.Uint(modbusx.At(regSerialHi, modbusx.Uint32)); err == nil && v != 0 {
		c.serial = strconv.FormatUint(v, 10)
	}
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
