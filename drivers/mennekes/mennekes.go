// Package mennekes drives Mennekes AMTRON wallboxes over Modbus TCP, and
// simulates them. Two controller families speak different maps:
//
//   - hcc3: AMTRON Xtra and Premium. MENNEKES "Description Modbus AMTRON
//     HCC3" v01, 2021-06-25 (cited as HCC3; map as in nymea's
//     amtron-hcc3-registers.json and evcc, notes §12): input registers,
//     32-bit values low word first. A poll reads 770..773 (CP, PP, error,
//     AMTRON state), 776..795 (phases, rated and installation current,
//     serial, session energy, power, name) and the holding register 1024
//     (customer current limitation, A): three requests. HCC3 reports no
//     per-phase currents, voltages or lifetime energy.
//   - bender: AMTRON Professional, ChargeControl and 4You, built on the
//     Bender CC612/613 controller. Bender's "ECU Modbus TCP server" spec
//     rev 1.07 (as nymea and evcc use it, notes §12): holding registers,
//     big-endian. A poll reads 100..151 (firmware, CP state,
//     availability, relay/phases, model), 200..227 (meter: currents in
//     mA, lifetime energy, power, voltages) and, in turn, 706..717
//     (signalled current, session energy) or 1000 (HEMS current limit,
//     A): three requests. No serial number register is known.
//
// Unit id 255. On the box: the Modbus TCP server / energy manager mode
// enabled in the installer web interface.
//
// Control: the limit register (1024 or 1000) in whole amps; 0 pauses, and
// enabling writes the last current back. No phase switching. Watchdog:
// neither document gives one (HCC3 has an "energy manager connection
// error", code 16); if the box is set up to expect the energy manager
// within a time, set watchdog_timeout and the driver rewrites the limit
// every third of it (charger.Watchdogged).
//
// VERIFY on hardware: the HCC3 word and byte orders (from nymea and evcc
// only), Bender's availability coding (inverted before fw 5.22) and relay
// state coding, the fallback behaviour on a timeout (the simulator: the
// safe current, and error 16 on HCC3), exceptions (illegal data address
// outside the blocks, illegal data value for limits out of range), and
// whether undocumented registers inside a block read (the simulator: 0).
package mennekes

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
		Name:                "mennekes",
		Title:               "Mennekes AMTRON (HCC3 and Bender), Modbus TCP",
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
		Name:  "mennekes",
		Title: "Mennekes AMTRON Xtra (HCC3), Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one AMTRON.
type Options struct {
	// Family is the controller: "hcc3" (AMTRON Xtra/Premium, default) or
	// "bender" (AMTRON Professional, ChargeControl, 4You).
	Family string `yaml:"family"`
	// UnitID is the Modbus unit id (default 255).
	UnitID int `yaml:"unit_id"`
	// WatchdogTimeout is the time, in seconds, within which the box
	// expects the energy manager, if it is set up so (default 0: none).
	WatchdogTimeout int `yaml:"watchdog_timeout"`
}

// DefaultOptions returns an HCC3 at unit 255 without a watchdog.
func DefaultOptions() Options { return Options{Family: "hcc3", UnitID: unitDefault} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.Family != "hcc3" && o.Family != "bender":
		return fmt.Errorf("mennekes: family %q is not hcc3 or bender", o.Family)
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("mennekes: unit_id %d is not 1..255", o.UnitID)
	case o.WatchdogTimeout < 0 || o.WatchdogTimeout > 3600:
		return fmt.Errorf("mennekes: watchdog_timeout %d s is not 0..3600", o.WatchdogTimeout)
	}
	return nil
}

// Charger is one AMTRON.
type Charger struct {
	log      *slog.Logger
	opts     Options
	maxAmps  float64
	limitReg uint16
	cl       *modbusx.Client
	plans    []*modbusx.Plan // every poll
	turns    []*modbusx.Plan // Bender: one of these per poll, in turn

	wmu   sync.Mutex // serializes writes
	mu    sync.Mutex // guards what follows; no I/O under it
	turn  int
	ben   benReading
	rated float64
	sp    setpoint.Setpoint // what the driver keeps the box set to
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
	c := &Charger{log: log.With("driver", "mennekes", "family", o.Family, "addr", addr), opts: o, maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "mennekes", Min: minCurrent, Max: c.maxAmps, Round: math.Floor, Write: c.writeAmps}
	plan := func(cfg modbusx.PlanConfig, vs []modbusx.Value) *modbusx.Plan {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			panic(fmt.Sprintf("mennekes: register plan: %v", err)) // the tables above are wrong
		}
		return p
	}
	if o.Family == "hcc3" {
		c.limitReg = hccLimit
		c.plans = []*modbusx.Plan{plan(planConfig(modbusx.Input, [2]uint16{hccCP, hccStatesEnd}, [2]uint16{hccPhases, hccInfoEnd}), hccValues)}
	} else {
		c.limitReg = benLimit
		cfg := planConfig(modbusx.Holding, [2]uint16{benFirmware, benInfoEnd}, [2]uint16{benMeter, benMeterEnd},
			[2]uint16{benSession, benSessEnd}, [2]uint16{benLimit, benLimit + 1})
		c.plans = []*modbusx.Plan{plan(cfg, benValues)}
		c.turns = []*modbusx.Plan{plan(cfg, benLimitValues), plan(cfg, benSessionValues)}
	}
	var err error
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("mennekes: %w", err)
	}
	return c, nil
}

// Poll reads the family's three requests.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	plans := c.plans
	if len(c.turns) > 0 {
		c.mu.Lock()
		plans = append(plans[:len(plans):len(plans)], c.turns[c.turn%len(c.turns)])
		c.turn++
		c.mu.Unlock()
	}
	b := modbusx.NewBlock()
	for _, p := range plans {
		part, err := c.cl.ReadPlan(ctx, p)
		if err != nil {
			return charger.State{}, fmt.Errorf("mennekes: poll %s: %w", c.opts.Family, err)
		}
		for _, r := range p.Requests() {
			regs, _ := part.Registers(r.Table, r.Addr, r.Count)
			b.Put(r.Table, r.Addr, regs)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var st charger.State
	var ok bool
	if c.opts.Family == "hcc3" {
		st, c.rated, ok = decodeHCC3(b)
	} else {
		st, ok = decodeBender(b, &c.ben)
	}
	if !ok {
		return charger.State{}, fmt.Errorf("mennekes: poll %s: no CP state: %w", c.opts.Family, charger.ErrBadReply)
	}
	return st, nil
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
