// Package phoenix drives wallboxes built on the Phoenix Contact EV Charge
// Control charging controllers with Ethernet (EV-CC-AC1-M3-CBC-RCM-ETH,
// -ETH-3G, EV-CC-AC1-M3-RCM-ETH-XP, -ETH-3G-XP): wallbe Eco and Pro,
// Compleo, ESL Walli LIGHT, E3/DC Easy Connect, and others; over Modbus
// TCP; and simulates one.
//
// It follows Phoenix Contact's user manual "Installing and starting up the
// EV Charge Control charging controller", UM EN EV-CC-AC1-M3-CBC-RCM-ETH
// (108191_en_04), revision 04, 2020-09-17, chapter "Modbus description"
// (cited as UM). The manual's register pages could not be consulted: the
// register facts here come from nymea's phoenixconnect-registers.json and
// evcc's documented register list, which agree; the wallbe
// extended-firmware registers rest on evcc alone. Tested against this
// package's simulator only; no hardware test yet.
//
// On the controller: DIP switch 10 ON (remote control over Modbus). Port
// 502, unit id 255; factory address 192.168.0.8/24.
//
// A poll takes three requests: the input block (100..133; 100..154 with
// the wallbe firmware, for its version string), the max charging current
// (holding 528), and one rotating read: the enable coil (400) on most
// polls, serial and name (holding 304..314) hourly.
//
// Control: the current is holding 528, whole amperes on Phoenix firmware
// and 0.1 A on wallbe's extended firmware (the variant option; "auto"
// takes a first reading of 60 or more as 0.1 A, as evcc does). Enabling
// and disabling is coil 400 (FC1/FC5: until modbusx offers coil requests
// they go over a second connection, see coils.go). No communication
// watchdog is documented in the sources: a Modbus setpoint holds until it
// is changed or the controller restarts, which brings back its configured
// defaults. The driver's
// Refresh (charger.Watchdogged, every `reapply` seconds) writes the
// current and the enable coil again wherever the controller shows other
// values than the driver set, so a restart does not leave them behind.
//
// Not confirmed, so VERIFY on hardware: the unit of the current registers
// 114..118 (A per evcc; mA per a Phoenix-compatible Bender table: the
// driver takes values above 100 as mA), input 128 as the lifetime energy
// in Wh (evcc reads holding 904, or 2980 on wallbe firmware), the string
// byte order of the serial number (304), the exceptions for unmapped
// registers and rejected writes (the simulator answers illegal data
// address and illegal data value), and the defaults after a restart.
package phoenix

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

func init() {
	charger.Register(charger.Driver{
		Name:                "phoenix",
		Title:               "Phoenix Contact EV Charge Control (wallbe, Compleo, ESL Walli), Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log, modbusx.Shared())
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "phoenix",
		Title: "Phoenix Contact EV-CC-AC1-M3-CBC-RCM-ETH, Modbus TCP, car plugged in",
		Run:   runSimulator,
	})
}

// Firmware variants.
const (
	VariantAuto    = "auto"    // decide from the first reading of 528
	VariantPhoenix = "phoenix" // Phoenix Contact firmware: 528 in A
	VariantWallbe  = "wallbe"  // wallbe extended firmware: 528 in 0.1 A
)

// Options configure one controller.
type Options struct {
	// UnitID is the Modbus unit id (default 255).
	UnitID int `yaml:"unit_id"`
	// Variant is the controller firmware: "phoenix" (528 in whole
	// amperes), "wallbe" (wallbe's extended firmware, 528 in 0.1 A) or
	// "auto" (default: a first reading of 60 or more means wallbe).
	Variant string `yaml:"variant"`
	// Reapply is how often, in seconds, the driver checks that the
	// controller still holds its current and enable setting and writes
	// them again if not (default 30; 0 never).
	Reapply int `yaml:"reapply"`
}

// DefaultOptions returns the options of a controller as delivered.
func DefaultOptions() Options {
	return Options{UnitID: defaultUnit, Variant: VariantAuto, Reapply: defaultReapply}
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 1 || o.UnitID > 255:
		return fmt.Errorf("phoenix: unit_id %d is not 1..255", o.UnitID)
	case o.Variant != VariantAuto && o.Variant != VariantPhoenix && o.Variant != VariantWallbe:
		return fmt.Errorf("phoenix: variant %q is not auto, phoenix or wallbe", o.Variant)
	case o.Reapply < 0 || o.Reapply > 3600:
		return fmt.Errorf("phoenix: reapply %d s is not 0..3600", o.Reapply)
	}
	return nil
}

// Charger is one EV Charge Control controller.
type Charger struct {
	log        *slog.Logger
	opts       Options
	maxAmps    float64
	cl         *modbusx.Client
	coils      coilIO
	closeCoils func() error
	plans      [2]*modbusx.Plan // input block: Phoenix, wallbe firmware
	setPlan    *modbusx.Plan

	wmu sync.Mutex // serializes writes
	mu  sync.Mutex // guards everything below; no I/O under it
	rot modbusx.Rotation
	// Firmware variant, once known.
	detected, wallbe bool
	// The controller as last read (or written).
	setpoint           float64 // A
	setpointOK         bool
	enabledOn          bool
	enabledOK          bool
	serial, name       string
	setErr             string
	loggedMilliamps    bool
	knownAmps, knownEn bool // what the driver keeps, once known
	amps               float64
	enabled            bool
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
	c := &Charger{log: log.With("driver", "phoenix", "addr", addr), opts: o, maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	if o.Variant != VariantAuto {
		c.detected, c.wallbe = true, o.Variant == VariantWallbe
	}
	cfg := planConfig()
	plan := func(vs ...modbusx.Value) *modbusx.Plan {
		p, err := modbusx.NewPlan(cfg, modbusx.Spans(vs...)...)
		if err != nil {
			panic(fmt.Sprintf("phoenix: static Plan: %v", err)) // a bug in this file
		}
		return p
	}
	c.plans = [2]*modbusx.Plan{plan(statusValues(false)...), plan(statusValues(true)...)}
	c.setPlan = plan(modbusx.At(regMaxCurrent, modbusx.Uint16))
	identPlan := plan(modbusx.Text(regSerial, 6), modbusx.Text(regName, 5))
	c.rot = modbusx.Rotation{
		Slots: []*modbusx.Slot{{Name: "serial and name", Every: time.Hour, Fetch: func(ctx context.Context) (func(), error) {
			b, err := c.cl.ReadPlan(ctx, identPlan)
			if err != nil {
				return nil, err
			}
			return func() {
				c.serial, _ = b.String(modbusx.Text(regSerial, 6))
				c.name, _ = b.String(modbusx.Text(regName, 5))
			}, nil
		}}},
		Fallback: &modbusx.Slot{Name: "enable coil", Fetch: func(ctx context.Context) (func(), error) {
			v, err := c.coils.ReadCoils(ctx, coilEnable, 1)
			if err == nil && len(v) != 1 {
				err = fmt.Errorf("read coil %d: %d values: %w", coilEnable, len(v), charger.ErrBadReply)
			}
			if err != nil {
				return nil, err
			}
			return func() { c.applyEnabled(v[0]) }, nil
		}},
	}
	var err error
	if c.cl, err = pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout}); err != nil {
		return nil, fmt.Errorf("phoenix: %w", err)
	}
	c.coils, c.closeCoils = newCoils(c.cl)
	return c, nil
}

// Poll reads the input block, the max charging current and one rotating
// value.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	c.mu.Lock()
	wallbe := c.detected && c.wallbe
	c.mu.Unlock()
	plan := c.plans[0]
	if wallbe {
		plan = c.plans[1]
	}
	b, err := c.cl.ReadPlan(ctx, plan)
	if err != nil {
		c.mu.Lock()
		c.rot.Reset()
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("phoenix: read status: %w", err)
	}
	r := decodeStatus(b, wallbe)
	st := r.state()
	c.readSetpoint(ctx)
	c.rot.Read(ctx, c.cl, &c.mu, c.log)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.milliamps && !c.loggedMilliamps {
		c.loggedMilliamps = true
		c.log.Info("the current registers count mA on this firmware")
	}
	st.Brand, st.Model = "Phoenix Contact", "EV Charge Control"
	if c.wallbe {
		st.Brand = "wallbe"
	}
	if c.name != "" {
		st.Model = c.name
	}
	st.Serial, st.Firmware = c.serial, r.firmware
	if c.setpointOK {
		st.CurrentLimit = charger.Ptr(c.setpoint)
	}
	if c.enabledOK {
		st.Enabled = charger.Ptr(c.enabledOn)
		if !c.enabledOn && st.Status == charger.StatusConnected {
			st.Status = charger.StatusPaused
		}
	}
	return st, nil
}

// readSetpoint reads 528, learning the firmware variant from the first
// reading when asked to.
func (c *Charger) readSetpoint(ctx context.Context) error {
	b, err := c.cl.ReadPlan(ctx, c.setPlan)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.setErr {
			c.log.Warn("max charging current unreadable", "err", err)
			c.setErr = msg
		}
		return err
	}
	c.setErr = ""
	raw, err := b.Uint(modbusx.At(regMaxCurrent, modbusx.Uint16))
	if err != nil {
		return err
	}
	if !c.detected {
		c.detected, c.wallbe = true, raw >= wallbeFromRaw
		c.log.Info("firmware variant from register 528", "raw", raw, "wallbe", c.wallbe)
	}
	v := float64(raw)
	if c.wallbe {
		v /= 10
	}
	c.setpoint, c.setpointOK = v, v <= maxAmps
	if c.setpointOK && !c.knownAmps && v >= minCurrent {
		c.knownAmps, c.amps = true, v
		c.log.Info("adopting the current the controller holds", "amps", v)
	}
	return nil
}

// applyEnabled takes in coil 400 (c.mu held) and adopts it the first time.
func (c *Charger) applyEnabled(on bool) {
	c.enabledOn, c.enabledOK = on, true
	if !c.knownEn {
		c.knownEn, c.enabled = true, on
	}
}

// Close releases the connections.
func (c *Charger) Close() error {
	return errors.Join(c.cl.Close(), c.closeCoils())
}
