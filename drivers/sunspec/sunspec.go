// Package sunspec reads SunSpec Modbus TCP devices, PV inverters and
// energy meters alike (meter driver "sunspec"), and simulates one.
//
// It follows the SunSpec information models as published in
// sunspec/models @ 7abdf8982d5364f8ae916deee18aac86c11be36d
// (json/model_1.json, model_101.json..model_103.json,
// model_201.json..model_204.json), summarized in protocols.md §16.
//
// Discovery, on the first read and after a read found the chain
// changed: the "SunS" marker is looked for at 40000, 0 and 50000 (or at
// the configured base), then the model headers [ID][L] are walked up to
// the end marker (ID 0xFFFF). Model 1 gives the identity, which is
// logged. Then each read is one request: the selected block from its
// ID register to its last point used, so that values and their scale
// factors always come from the same answer.
//
// Read models: the integer meters 201–204 (W, AphA..C, PhVphA..C,
// TotWhImp, TotWhExp with A_SF, V_SF, W_SF and TotWh_SF) and the
// integer inverters 101–103 (W, AphA..C, PhVphA..C, WH). The float
// variants 111–113 and 211–214 are not read. A point the device marks
// "not implemented" (int16 and sunssf 0x8000, uint16 0xFFFF, acc32 0) is
// left out of the reading, never reported as zero.
//
// Sign: Power is W as the device sends it. For meters SunSpec means
// positive = power imported from the grid, negative = exported, but
// vendors differ (VERIFY per device, protocols.md §16): set the meter's
// sign in the config. For inverters Power is the AC power delivered,
// positive while producing, and EnergyImport is the lifetime energy
// produced (the counter that grows while Power is positive). SunSpec
// carries no time stamp, so Measured stays zero.
package sunspec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

func init() {
	meter.Register(meter.Driver{
		Name:                "sunspec",
		Title:               "SunSpec inverter or meter (models 101-103, 201-204), Modbus TCP",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         defaultPort,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s meter.Settings, opts any, log *slog.Logger) (meter.Meter, error) {
			return New(s, charger.OptionsOr(opts, DefaultOptions), log, modbusx.Shared())
		},
	})
	charger.RegisterSimulator(charger.Simulator{
		Name:  "sunspec",
		Title: "SunSpec device (inverter model 103 and meter model 203), Modbus TCP",
		Run:   runSimulator,
	})
}

const defaultPort = 502

// Options configure a SunSpec device.
type Options struct {
	// UnitID is the Modbus unit id of the device (default 1).
	UnitID int `yaml:"unit_id"`
	// BaseAddress is the register holding the "SunS" marker: 0, 40000 or
	// 50000. Unset, the three are tried in the order 40000, 0, 50000.
	BaseAddress *int `yaml:"base_address"`
	// Model is the model to read: 101, 102 or 103 (an inverter's
	// output) or 201, 202, 203 or 204 (a meter). 0, the default, takes
	// the first meter model in the chain, or the first inverter model
	// when there is no meter.
	Model int `yaml:"model"`
	// Instance picks among several blocks of that model, counting from 1
	// in chain order (default 1): a second meter behind an inverter, say.
	Instance int `yaml:"instance"`
}

// DefaultOptions returns unit 1, base discovery, the first meter model.
func DefaultOptions() Options { return Options{UnitID: 1, Instance: 1} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.UnitID < 0 || o.UnitID > 255:
		return fmt.Errorf("sunspec: unit_id %d is not 0..255", o.UnitID)
	case o.BaseAddress != nil && *o.BaseAddress != 0 && *o.BaseAddress != 40000 && *o.BaseAddress != 50000:
		return fmt.Errorf("sunspec: base_address %d is not 0, 40000 or 50000", *o.BaseAddress)
	case o.Model != 0 && !isMeter(uint16(o.Model)) && !isInverter(uint16(o.Model)):
		return fmt.Errorf("sunspec: model %d is not supported (101-103, 201-204; 0 picks one)", o.Model)
	case o.Instance < 0 || o.Instance > maxModels:
		return fmt.Errorf("sunspec: instance %d is not 1..%d", o.Instance, maxModels)
	}
	return nil
}

// Meter reads one SunSpec device. It is safe for concurrent use.
type Meter struct {
	log  *slog.Logger
	opts Options
	cl   *modbusx.Client
	rd   reader

	mu  sync.Mutex
	dev *device // nil until discovered
}

// New builds the driver on pool; it does no I/O.
func New(s meter.Settings, o Options, log *slog.Logger, pool *modbusx.Pool) (*Meter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Instance == 0 {
		o.Instance = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.Address == "" {
		return nil, errors.New("sunspec: address is empty")
	}
	addr := modbusx.HostPort(s.Address, defaultPort)
	cl, err := pool.Client(modbusx.Endpoint{Address: addr, Unit: uint8(o.UnitID), Timeout: s.Timeout})
	if err != nil {
		return nil, fmt.Errorf("sunspec: %w", err)
	}
	return &Meter{log: log.With("driver", "sunspec", "meter", s.Name, "addr", addr), opts: o, cl: cl, rd: cl}, nil
}

// Read returns the selected model's values, discovering the device
// first when needed.
func (m *Meter) Read(ctx context.Context) (meter.Reading, error) {
	dev, err := m.device(ctx)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("sunspec: discover: %w", err)
	}
	b, err := m.rd.ReadPlan(ctx, dev.plan)
	if err != nil {
		if errors.Is(err, modbusx.ErrIllegalAddress) {
			m.forget(dev) // the map moved: discover again next time
		}
		return meter.Reading{}, fmt.Errorf("sunspec: read model %d: %w", dev.sel.ID, err)
	}
	r, err := decodeModel(b, dev.sel)
	if err != nil {
		if errors.Is(err, errModelMoved) {
			m.forget(dev)
		}
		return meter.Reading{}, fmt.Errorf("sunspec: %w", err)
	}
	return r, nil
}

// device returns the discovered device, discovering it if needed.
func (m *Meter) device(ctx context.Context) (*device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dev != nil {
		return m.dev, nil
	}
	d, err := discover(ctx, m.rd, m.opts)
	if err != nil {
		return nil, err
	}
	m.log.Info("sunspec device found", "manufacturer", d.ident.Manufacturer, "model", d.ident.Model,
		"serial", d.ident.Serial, "version", d.ident.Version, "base", d.base, "models", d.chain(),
		"reading", d.sel.ID, "at", d.sel.Addr)
	m.dev = d
	return d, nil
}

func (m *Meter) forget(d *device) {
	m.mu.Lock()
	if m.dev == d {
		m.dev = nil
		m.log.Info("sunspec model map changed; discovering again on the next read")
	}
	m.mu.Unlock()
}

// Close releases the connection.
func (m *Meter) Close() error { return m.cl.Close() }

var (
	_ meter.Meter  = (*Meter)(nil)
	_ meter.Closer = (*Meter)(nil)
)
