// Package heidelberg drives the Heidelberg Wallbox Energy Control (also
// sold as Amperfied Wallbox Energy Control, SENEC pro s and Walther
// basicEVO Pro) over Modbus RTU through an RS485 gateway, and simulates
// one or more boxes behind such a gateway.
//
// It follows Heidelberg/Amperfied's "Wallbox Energy Control – Modbus
// Register-Layouts" table (layout V1.0.7, as of 22 February 2021; the
// same table is printed on p.17 of Walther-Werke's basicEVO Pro manual),
// cited as HEC. Tested against this package's simulator only; no
// hardware test yet.
//
// On the box (HEC, notes §10): RS485 follower mode (DIP S5/4 OFF), a
// unique bus id on DIP S4, termination on the last box (DIP S6/2), 19200
// Bd 8E1. The gateway must pass RTU frames through unchanged over TCP
// ("transparent" or "RTU over TCP" mode, framing: rtu_over_tcp, the
// default) or translate them to Modbus TCP (framing: tcp). Boxes behind
// one gateway share one connection; each is a charger with its unit_id.
//
// A poll reads the status block (input 4..18) and the control block
// (holding 257..262): two requests; a third reads the identity (input
// 100..133, then 200..203) on the first polls and hourly.
//
// Control: 261 is the current (0.1 A, 0 or 6..16 A); 0 stops charging,
// which is how the driver disables the box, and enabling writes the last
// current back. Watchdog: unless Modbus traffic reaches the box within
// the timeout of 257 (ms), it falls back to the failsafe current of 262.
// The driver can write both at start (options), keeps the box talked to
// (charger.Watchdogged, every third of the timeout) and puts its current
// back if the fallback happened anyway. Standby (258) is disabled by
// default, as evcc does, since a box in standby does not charge some cars.
// The box has no phase switch; Phases is what the car draws on.
//
// Not in HEC, so VERIFY on hardware: what 261 reads after a watchdog
// fallback (the simulator: the failsafe current) and whether traffic to
// another unit on the bus feeds the watchdog (the simulator: no); the
// exceptions for unmapped registers (illegal data address) and for values
// out of range (illegal data value); whether 0 in 257 turns the watchdog
// off; whether FC16 is accepted (evcc uses it; HEC lists FC3/4/6).
package heidelberg

import (
	"context"
	"fmt"
	"github.com/evbridge/evbridge/drivers/setpoint"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "heidelberg",
		Title:               "Heidelberg Energy Control, Modbus RTU via gateway",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log, modbusx.Shared())
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "heidelberg",
		Title: "Heidelberg Energy Control behind an RTU-over-TCP gateway (unit 1), car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one box.
type Options struct {
	// UnitID is the box's bus id, set on DIP S4 (default 1).
	UnitID int `yaml:"unit_id"`
	// Framing is how the gateway carries Modbus over TCP: "rtu_over_tcp"
	// (default: RTU frames with CRC, a transparent gateway) or "tcp"
	// (a gateway that translates to Modbus TCP).
	Framing string `yaml:"framing"`
	// WatchdogTimeout, in milliseconds (1000..65535), is written to the
	// box's watchdog register (257); 0 (default) keeps the box's value,
	// which the driver reads and keeps alive.
	WatchdogTimeout int `yaml:"watchdog_timeout"`
	// FailsafeCurrent, A (0, or 6..16), is written to the failsafe
	// register (262): what the box charges with when the watchdog runs
	// out. Unset keeps the box's value.
	FailsafeCurrent *float64 `yaml:"failsafe_current"`
	// Standby is "disable" (default) or "keep": whether the driver turns
	// the box's standby function off (258 = 4).
	Standby string `yaml:"standby"`
}

// DefaultOptions returns unit 1 behind a transparent gateway, with the
// box's watchdog settings and standby disabled.
func DefaultOptions() Options {
	return Options{UnitID: 1, Framing: "rtu_over_tcp", Standby: "disable"}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 1 || o.UnitID > 247:
		return fmt.Errorf("heidelberg: unit_id %d is not 1..247", o.UnitID)
	case o.Framing != "rtu_over_tcp" && o.Framing != "tcp":
		return fmt.Errorf("heidelberg: framing %q is not rtu_over_tcp or tcp", o.Framing)
	case o.WatchdogTimeout != 0 && (o.WatchdogTimeout < 1000 || o.WatchdogTimeout > 65535):
		return fmt.Errorf("heidelberg: watchdog_timeout %d ms is not 0 or 1000..65535", o.WatchdogTimeout)
	case o.FailsafeCurrent != nil && !(*o.FailsafeCurrent == 0 || *o.FailsafeCurrent >= minCurrent && *o.FailsafeCurrent <= maxCurrent):
		return fmt.Errorf("heidelberg: failsafe_current %v A is not 0 or %g..%g", *o.FailsafeCurrent, minCurrent, maxCurrent)
	case o.Standby != "disable" && o.Standby != "keep":
		return fmt.Errorf("heidelberg: standby %q is not disable or keep", o.Standby)
	}
	return nil
}

// identityEvery is how often the identity blocks are re-read.
const identityEvery = time.Hour

// Charger is one box.
type Charger struct {
	log     *slog.Logger
	opts    Options
	maxAmps float64
	cl      *modbusx.Client
	plan    *modbusx.Plan   // status and control blocks, every poll
	idPlans []*modbusx.Plan // identity blocks, one per poll

	wmu     sync.Mutex // serializes writes
	mu      sync.Mutex // guards what follows; no I/O under it
	ctl     control
	ctlOK   bool
	pending []*modbusx.Plan
	identAt time.Time
	hw      hwInfo
	// What the driver keeps the box set to, once commanded.
	sp setpoint.Setpoint // what the driver keeps the box set to
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
	c := &Charger{log: log.With("driver", "heidelberg", "addr", addr, "unit", o.UnitID), opts: o, maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "heidelberg", Min: minCurrent, Max: c.maxAmps, Write: c.writeAmps}
	var err error
	cfg := planConfig()
	if c.plan, err = modbusx.NewPlan(cfg, modbusx.Spans(slices.Concat(statusValues, holdingValues)...)...); err != nil {
		return nil, fmt.Errorf("heidelberg: plan: %w", err)
	}
	for _, vs := range [][]modbusx.Value{hwValues, variantValues} {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			return nil, fmt.Errorf("heidelberg: identity plan: %w", err)
		}
		c.idPlans = append(c.idPlans, p)
	}
	ep := modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}
	if o.Framing == "rtu_over_tcp" {
		ep.Framing = modbusx.RTUOverTCP
	}
	if c.cl, err = pool.Client(ep); err != nil {
		return nil, fmt.Errorf("heidelberg: %w", err)
	}
	return c, nil
}

// Poll reads the status and control blocks, and one identity block while
// the identity is due.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	b, err := c.cl.ReadPlan(ctx, c.plan)
	if err != nil {
		c.mu.Lock()
		c.identAt = time.Time{}
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("heidelberg: read unit %d: %w", c.opts.UnitID, err)
	}
	r := decodeStatus(b)
	ctl := decodeControl(b)
	c.mu.Lock()
	c.ctl, c.ctlOK = ctl, true
	c.mu.Unlock()
	if err := c.configure(ctx, ctl); err != nil {
		return charger.State{}, err
	}
	c.pollIdentity(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	st := r.state(ctl)
	c.session(r, &st)
	st.Identity = c.hw.identity()
	return st, nil
}

// pollIdentity reads the next identity block while one is due; a failure
// only delays it.
func (c *Charger) pollIdentity(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 && time.Since(c.identAt) >= identityEvery {
		c.pending, c.identAt = slices.Clone(c.idPlans), time.Now()
	}
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	p := c.pending[0]
	c.mu.Unlock()
	b, err := c.cl.ReadPlan(ctx, p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.log.Warn("identity registers unreadable", "err", err)
		return
	}
	c.pending = c.pending[1:]
	c.hw.update(b)
}

// session computes the session energy from the lifetime energy.
func (c *Charger) session(r status, st *charger.State) {
	if r.iec != charger.IECUnknown {
		plugged := r.iec != charger.IECA && r.iec != charger.IECE
		if r.totalOK && plugged && c.pluggedKnown && !c.plugged {
			c.baseKWh, c.haveBase = r.totalKWh, true
		}
		c.plugged, c.pluggedKnown = plugged, true
	}
	if c.haveBase && r.totalOK && r.totalKWh >= c.baseKWh {
		st.SessionEnergy = charger.Ptr(r.totalKWh - c.baseKWh)
	}
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
