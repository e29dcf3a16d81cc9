// Package ablemh drives ABL eMH1 and eMH2 wallboxes and the SENEC
// Wallbox pro (all with ABL's EVCC2/3 charge controller) over Modbus
// ASCII on RS485, through an RS485↔TCP gateway, and simulates one or
// more controllers behind such a gateway.
//
// It follows ABL's "EVCC2/3 – API subset for external applications",
// doc 05 0015 20 Rev. B (12.03.2020), cited as ABL (a copy is in
// jrv/esphome-abl-emh1 @ a3031f92, docs/ABL_Modbus-ASCII.pdf); facts
// only, see shared notes §4a. Tested models: none on hardware; tested
// against this package's simulator only.
//
// Transport: modbusx with framing ASCIIOverTCP, on the process-wide
// pool like every other Modbus driver (connection sharing, timeouts,
// reconnects, errors); this package keeps only what is ABL's own.
//
// Wiring: the controller's RS485 port (38400 Bd, 8E1, ABL §1.2) goes to
// a gateway in transparent mode ("TCP server", no protocol conversion:
// the gateway must pass the ASCII lines through unchanged; Modbus
// TCP↔RTU conversion does NOT work, the bus speaks ASCII). Set the
// gateway's serial side to 38400 8E1 and give its TCP port as the
// charger's address (default port 502). Several controllers on one bus
// get distinct device ids (1..16) and are configured as one charger
// each with the same address and their device_id: they share one TCP
// connection, on which modbusx serializes the requests.
//
// The protocol: functions 0x03 and 0x10 only, so every write is an FC16
// write, even of one register; replies start with '>' (modbusx takes
// ':' too); every read answer carries the first register's number in
// the high byte of its first word, which the driver checks. A poll
// reads 0x002E..0x0032 (state byte, EV-connected bit, duty, Ict1..Ict3
// in 0.1 A): ONE request. The first two polls and then one poll an hour
// read one identity block more (0x0001..2: device id, firmware, flags;
// 0x0050..57: serial), and a poll that finds an error state reads the
// system flags (0x0006..7) too.
//
// There are no power, voltage or energy registers. With the internal
// current meter (flag bit 5) the driver reports the phase currents and
// a power ESTIMATED as 230 V × ΣI; without it, neither.
//
// Control: Icmax (0x0014) is the PWM duty × 10, that is current / 0.06
// A, rounded down (6 A → 0x0064, 16 A → 0x010A = 15.96 A); 0x03E8 allows
// no current, which is how the driver disables charging. Enabling writes
// the current again; if the outlet is disabled (state E0) it first
// writes 0xA1A1 to 0x0005. No phase switching.
//
// Watchdog: with its upstream timeout enabled (flag bit 6), the
// controller falls to F4 when its master stops talking to it. ABL gives
// no duration, so it is the upstream_timeout option (0: none known):
// set, the driver is charger.Watchdogged, talks to the box every third
// of it and writes its current back after an F4.
//
// VERIFY on hardware: the upstream-timeout duration, and what ends an F4
// (the simulator: a write of 0x0014 or 0xA1A1 to 0x0005) and which
// traffic feeds it (the simulator: any frame to that device id); the
// layout of 0x0001/0x0002 beyond the flags byte (read here as device id
// and a firmware byte of major.minor nibbles; no hardware revision is
// decoded) and of byte 1 of the serial answer; whether the controller
// answers reads that start inside a block or are shorter than it (the
// simulator: exception 02 inside, shorter reads allowed); the exceptions
// for unmapped registers (02) and bad values (03); whether the box needs
// each request twice after bus idle (evcc sends everything twice; this
// driver sends once and retries on the next poll); the box's own
// current ceiling (not readable; 32 A assumed, set max_current).
package ablemh

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/setpoint"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "abl_emh",
		Title:               "ABL eMH1/eMH2, SENEC Wallbox pro (EVCC2/3), Modbus ASCII via RS485 gateway",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o := charger.OptionsOr(opts, DefaultOptions)
			c, err := New(s, o, log, modbusx.Shared())
			switch {
			case err != nil:
				return nil, err
			case o.UpstreamTimeout > 0:
				return c, nil
			}
			return noWatchdog{c}, nil
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "abl_emh",
		Title: "ABL eMH1 (EVCC2/3, device id 1) behind a transparent Modbus ASCII gateway, car plugged in",
		Run:   runSimulator,
	})
}

// Options configure one controller.
type Options struct {
	// DeviceID is the controller's bus id, 1..16 (default 1).
	DeviceID int `yaml:"device_id"`
	// UpstreamTimeout is the controller's upstream communication timeout,
	// if it is enabled on the box (flag bit 6): ABL does not give its
	// length. Set, the driver keeps the box talked to every third of it
	// and restores its current after an F4 (default 0: none).
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
}

// DefaultOptions returns device id 1 with no upstream timeout known.
func DefaultOptions() Options { return Options{DeviceID: defaultID} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.DeviceID < 1 || o.DeviceID > maxID:
		return fmt.Errorf("abl_emh: device_id %d is not 1..%d", o.DeviceID, maxID)
	case o.UpstreamTimeout != 0 && (o.UpstreamTimeout < time.Second || o.UpstreamTimeout > time.Hour):
		return fmt.Errorf("abl_emh: upstream_timeout %s is not 0 or 1s..1h", o.UpstreamTimeout)
	}
	return nil
}

// identityEvery is how often the identity blocks are read again.
const identityEvery = time.Hour

// Charger is one controller.
type Charger struct {
	log     *slog.Logger
	opts    Options
	maxAmps float64
	cl      *modbusx.Client

	wmu sync.Mutex // serializes writes
	mu  sync.Mutex // guards what follows; no I/O under it
	sp  setpoint.Setpoint
	// last state byte read (0: none yet, or stale after a write of 0x0005)
	code      uint8
	id        identity
	pending   []uint16 // identity blocks still to read
	identAt   time.Time
	warnedOff bool
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
	c := &Charger{log: log.With("driver", "abl_emh", "addr", addr, "device_id", o.DeviceID), opts: o, maxAmps: maxCurrent}
	if s.MaxCurrent >= minCurrent {
		c.maxAmps = min(s.MaxCurrent, maxCurrent)
	}
	c.sp = setpoint.Setpoint{Driver: "abl_emh", Min: minCurrent, Max: c.maxAmps, Write: c.writeAmps,
		Round: func(a float64) float64 { return ampsOf(units(a)) }}
	var err error
	ep := modbusx.Endpoint{Address: addr, Framing: modbusx.ASCIIOverTCP, Unit: uint8(o.DeviceID), Timeout: s.Timeout}
	if c.cl, err = pool.Client(ep); err != nil {
		return nil, fmt.Errorf("abl_emh: %w", err)
	}
	return c, nil
}

// readReport reads the status report (one request).
func (c *Charger) readReport(ctx context.Context) (report, error) {
	regs, err := c.cl.Read(ctx, modbusx.Holding, regReport, reportLen)
	if err != nil {
		return report{}, err
	}
	r, err := decodeReport(regs)
	if err != nil {
		return report{}, err
	}
	c.mu.Lock()
	c.code = r.code
	c.mu.Unlock()
	return r, nil
}

// Poll reads the status report, one identity block while one is due,
// and the system flags after an error state.
func (c *Charger) Poll(ctx context.Context) (charger.State, error) {
	r, err := c.readReport(ctx)
	if err != nil {
		c.mu.Lock()
		c.identAt = time.Time{}
		c.mu.Unlock()
		return charger.State{}, fmt.Errorf("abl_emh: read device %d: %w", c.opts.DeviceID, err)
	}
	c.pollIdentity(ctx)
	var sys uint16
	var sysOK bool
	if r.code>>4 == 0xF || r.code>>4 == 0xE {
		if regs, err := c.cl.Read(ctx, modbusx.Holding, regSysFlags, sysFlagsLen); err != nil {
			c.log.Warn("system flags unreadable", "err", err)
		} else if regs[0]>>8 == regSysFlags {
			sys, sysOK = regs[1], true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id.flagsOK && c.id.flags&flagUpstreamTimeout != 0 && c.opts.UpstreamTimeout == 0 && !c.warnedOff {
		c.warnedOff = true
		c.log.Warn("the box has its upstream timeout enabled but upstream_timeout is not set: an F4 is not recovered")
	}
	return r.state(&c.id, sys, sysOK), nil
}

// pollIdentity reads the next identity block while one is due; a failure
// only delays it.
func (c *Charger) pollIdentity(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 && time.Since(c.identAt) >= identityEvery {
		c.pending, c.identAt = []uint16{regIdentity, regSerial}, time.Now()
	}
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	reg := c.pending[0]
	c.mu.Unlock()
	n := uint16(identityLen)
	if reg == regSerial {
		n = serialLen
	}
	regs, err := c.cl.Read(ctx, modbusx.Holding, reg, n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if reg == regSerial {
			err = c.id.putSerial(regs)
		} else {
			err = c.id.putFlags(regs)
		}
	}
	if err != nil {
		c.log.Warn("identity registers unreadable", "register", fmt.Sprintf("0x%04X", reg), "err", err)
		return
	}
	c.pending = c.pending[1:]
}

// Close releases the connection.
func (c *Charger) Close() error { return c.cl.Close() }
