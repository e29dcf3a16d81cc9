// Package shelly reads a Shelly Pro 3EM three-phase energy meter over its
// local Gen2 RPC API on HTTP (meter driver "shelly_pro3em"), and
// simulates one.
//
// It follows the Shelly Gen2+ API documentation
// (shelly-api-docs.shelly.cloud/gen2: ComponentsAndServices/EM,
// ComponentsAndServices/EMData, General/Authentication), summarized in
// protocols.md §17. One read is two requests:
//
//   - GET /rpc/EM.GetStatus?id=N: total_act_power (W), and per phase
//     a_/b_/c_act_power, a_/b_/c_current (A) and a_/b_/c_voltage (V);
//   - GET /rpc/EMData.GetStatus?id=N: total_act and total_act_ret,
//     lifetime energy imported and returned, in Wh.
//
// EM.GetStatus must answer, with total_act_power; the energy counters
// are extra: when EMData.GetStatus fails the reading comes without them
// and the failure is logged. An "errors" entry power_meter_failure in
// EM.GetStatus fails the read; other entries are logged.
//
// Authentication: when it is on in the device, the device answers 401
// with an RFC 7616 digest challenge (SHA-256, user "admin"). The driver
// answers it with the password option (MD5 challenges are accepted too)
// and keeps the nonce, counting nc up, which firmware 2.0 and later
// accept for many requests; a device that wants a fresh nonce answers
// 401 again and the request is repeated once with it. Basic
// authentication is not implemented (the API has none).
//
// Sign: Power is total_act_power as the device sends it: positive =
// imported from the grid, negative = exported, with the current
// transformers clamped the documented way round. Currents carry the
// sign of their phase's active power. The API has no time stamp, so
// Measured stays zero.
package shelly

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
)

func init() {
	meter.Register(meter.Driver{
		Name:                "shelly_pro3em",
		Title:               "Shelly Pro 3EM (Gen2 RPC over HTTP)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         80,
		NewOptions:          func() any { return &Options{} },
		New: func(s meter.Settings, opts any, log *slog.Logger) (meter.Meter, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "shelly_pro3em",
		Title: "Shelly Pro 3EM grid meter (Gen2 RPC over HTTP)",
		Run:   runSimulator,
	})
}

// Options configure a Shelly Pro 3EM.
type Options struct {
	// Password is the device password, needed when authentication is on
	// in the Shelly app or web interface; the user is always "admin".
	// Empty: the device must have authentication off.
	Password string `yaml:"password"`
	// ID is the EM component to read (default 0, the only one of a Pro
	// 3EM).
	ID int `yaml:"id"`
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case strings.ContainsAny(o.Password, "\r\n"):
		return fmt.Errorf("shelly_pro3em: password must be a single line")
	case o.ID < 0 || o.ID > 255:
		return fmt.Errorf("shelly_pro3em: id %d is not 0..255", o.ID)
	}
	return nil
}

// Meter reads one Shelly Pro 3EM. It is safe for concurrent use.
type Meter struct {
	rpc  *rpc
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	lastErr string // energy or device note last logged, to log once
}

// New builds the driver; it does no I/O.
func New(s meter.Settings, o *Options, log *slog.Logger) (*Meter, error) {
	if o == nil {
		o = &Options{}
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r, err := newRPC(s.Address, o.Password, s.Timeout)
	if err != nil {
		return nil, fmt.Errorf("shelly_pro3em: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Meter{rpc: r, opts: *o, log: log.With("driver", "shelly_pro3em", "meter", s.Name, "addr", r.base)}, nil
}

// Read returns power, currents and voltages, and the energy counters
// when the device gives them.
func (m *Meter) Read(ctx context.Context) (meter.Reading, error) {
	body, err := m.rpc.call(ctx, "EM.GetStatus", m.opts.ID)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("shelly_pro3em: EM.GetStatus: %w", err)
	}
	r, notes, err := parseEMStatus(body)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("shelly_pro3em: EM.GetStatus: %w", err)
	}
	var note string
	if len(notes) > 0 {
		note = "device reports errors: " + strings.Join(notes, ", ")
	}
	body, err = m.rpc.call(ctx, "EMData.GetStatus", m.opts.ID)
	if err == nil {
		r.EnergyImport, r.EnergyExport, err = parseEMData(body)
	}
	if err != nil {
		note = strings.TrimPrefix(note+"; energy counters unreadable: "+err.Error(), "; ")
	}
	m.logOnce(note)
	return r, nil
}

// logOnce logs a note when it differs from the last one.
func (m *Meter) logOnce(note string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if note != m.lastErr && note != "" {
		m.log.Warn(note)
	}
	m.lastErr = note
}

// Close releases idle connections.
func (m *Meter) Close() error {
	m.rpc.client.CloseIdleConnections()
	return nil
}

var (
	_ meter.Meter  = (*Meter)(nil)
	_ meter.Closer = (*Meter)(nil)
)
