package sunspec

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/simonvetter/modbus"
)

// SimConfig sets up a simulated SunSpec device; zero fields take the
// defaults.
type SimConfig struct {
	// UnitID is the device's unit id (default 1); other units are
	// answered "gateway target failed to respond".
	UnitID uint8
	// Base is where "SunS" sits (default 40000).
	Base *uint16
	// Models are the blocks after model 1, in chain order (default 203).
	// 101–103 and 201–204 carry values; any other ID is served as an
	// opaque 10-register block, for drivers to walk past.
	Models []uint16
	// Identity in model 1.
	Manufacturer, Model, Version, Serial string
	// Grid is the meter models' total power profile, W, positive =
	// import (default 1500 W).
	Grid func(now time.Time) float64
	// PV is the inverter models' AC power profile, W (default 3000 W).
	PV func(now time.Time) float64
	// Voltage is the line to neutral voltage (default 230 V).
	Voltage float64
	// ImportWh, ExportWh and ProducedWh are the counters at start.
	ImportWh, ExportWh, ProducedWh float64
	// NotImplemented names points every block serves as "not
	// implemented": "W", "W_SF", "AphB", "TotWhImp", "WH"...
	NotImplemented []string
	// NoEndMarker ends the chain with unmapped registers instead of the
	// 0xFFFF end marker, as some devices do.
	NoEndMarker bool
	Logger      *slog.Logger
}

// Simulator is a SunSpec device on a real Modbus TCP server. Registers
// outside the model chain answer "illegal data address".
type Simulator struct {
	cfg  SimConfig
	base uint16
	log  *slog.Logger

	mu        sync.Mutex
	srv       *modbus.ModbusServer
	addr      string
	grid, pv  func(time.Time) float64
	importWh  float64
	exportWh  float64
	produced  float64
	last      time.Time
	overrides map[string]uint32
	notImpl   map[string]bool
	busy      int
	reads     uint64
}

// NewSimulator returns a stopped simulator.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.UnitID == 0 {
		cfg.UnitID = 1
	}
	if len(cfg.Models) == 0 {
		cfg.Models = []uint16{203}
	}
	if cfg.Voltage <= 0 {
		cfg.Voltage = 230
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.Manufacturer, "evbridge")
	def(&cfg.Model, "SunSpec simulator")
	def(&cfg.Version, "1.0.0")
	def(&cfg.Serial, "SIM0001")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, base: 40000, log: cfg.Logger.With("sim", "sunspec"),
		grid: cfg.Grid, pv: cfg.PV, importWh: cfg.ImportWh, exportWh: cfg.ExportWh, produced: cfg.ProducedWh,
		overrides: map[string]uint32{}, notImpl: map[string]bool{}}
	if cfg.Base != nil {
		s.base = *cfg.Base
	}
	if s.grid == nil {
		s.grid = constant(1500)
	}
	if s.pv == nil {
		s.pv = constant(3000)
	}
	for _, p := range cfg.NotImplemented {
		s.notImpl[p] = true
	}
	return s
}

func constant(w float64) func(time.Time) float64 { return func(time.Time) float64 { return w } }

// Start serves on addr (port 0 picks a free port) until ctx ends or
// Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	var srv *modbus.ModbusServer
	var err error
	for range 5 {
		var a string
		if a, err = freeAddr(addr); err != nil {
			return fmt.Errorf("sunspec sim: %w", err)
		}
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + a, Timeout: time.Minute,
			MaxClients: 8, Logger: modbusx.LibLogger(s.log)}, handler{s})
		if err == nil {
			if err = srv.Start(); err == nil {
				addr = a
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("sunspec sim: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.srv, s.addr, s.last = srv, addr, time.Now()
	s.mu.Unlock()
	context.AfterFunc(ctx, func() { s.Close() })
	s.log.Info("simulator listening", "addr", addr, "unit", s.cfg.UnitID, "base", s.base, "models", s.cfg.Models)
	return nil
}

// freeAddr turns port 0 into a free port: the library binds by itself
// and does not tell which port it got.
func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Addr is the address the simulator listens on.
func (s *Simulator) Addr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.addr }

// Close stops serving.
func (s *Simulator) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Stop()
}

// SetGrid makes the meter models report a constant total power, W.
func (s *Simulator) SetGrid(w float64) { s.mu.Lock(); s.grid = constant(w); s.mu.Unlock() }

// SetPV makes the inverter models report a constant AC power, W.
func (s *Simulator) SetPV(w float64) { s.mu.Lock(); s.pv = constant(w); s.mu.Unlock() }

// Set serves raw for a point in every block that has it (acc32 points
// take all 32 bits, others the low 16), whatever the model computes.
func (s *Simulator) Set(point string, raw uint32) {
	s.mu.Lock()
	s.overrides[point] = raw
	s.mu.Unlock()
}

// Clear undoes Set for point.
func (s *Simulator) Clear(point string) { s.mu.Lock(); delete(s.overrides, point); s.mu.Unlock() }

// Busy makes the next n requests fail with "server device busy".
func (s *Simulator) Busy(n int) { s.mu.Lock(); s.busy = n; s.mu.Unlock() }

// Reads is the number of read requests answered so far.
func (s *Simulator) Reads() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// advance integrates the energy counters up to now; s.mu is held.
func (s *Simulator) advance(now time.Time) (grid, pv float64) {
	grid, pv = s.grid(now), math.Max(s.pv(now), 0)
	if dt := now.Sub(s.last).Hours(); dt > 0 {
		if grid > 0 {
			s.importWh += grid * dt
		} else {
			s.exportWh -= grid * dt
		}
		s.produced += pv * dt
		s.last = now
	}
	return grid, pv
}

type handler struct{ s *Simulator }

func (handler) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (handler) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (handler) HandleInputRegisters(*modbus.InputRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalFunction
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.UnitId != s.cfg.UnitID:
		return nil, modbus.ErrGWTargetFailedToRespond
	case s.busy > 0:
		s.busy--
		return nil, modbus.ErrServerDeviceBusy
	case req.IsWrite:
		return nil, modbus.ErrIllegalDataAddress
	}
	s.reads++
	regs := s.image(time.Now())
	lo := int(req.Addr) - int(s.base)
	hi := lo + int(req.Quantity)
	if lo < 0 || hi > len(regs) {
		return nil, modbus.ErrIllegalDataAddress
	}
	return append([]uint16(nil), regs[lo:hi]...), nil
}

// runSimulator serves `evbridge sim sunspec`: an inverter (model 103)
// with a grid meter (model 203) in a house whose sun rises and sets
// every ten minutes.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	start := time.Now()
	pv := func(now time.Time) float64 {
		return math.Max(0, 5000*math.Sin(2*math.Pi*now.Sub(start).Seconds()/600))
	}
	house := func(now time.Time) float64 {
		return 700 + 300*math.Sin(2*math.Pi*now.Sub(start).Seconds()/47)
	}
	s := NewSimulator(SimConfig{Models: []uint16{103, 203}, Logger: slog.Default(),
		PV: pv, Grid: func(now time.Time) float64 { return house(now) - pv(now) },
		ImportWh: 1_234_567, ExportWh: 765_432, ProducedWh: 2_345_678})
	return httpsim.Serve(ctx, addr, ready, s)
}
