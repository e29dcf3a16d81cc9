package abl

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated eM4; zero fields take the defaults.
type SimConfig struct {
	// Connectors is 1 (Single, default) or 2 (Twin).
	Connectors int
	// MaxCurrent is the box's rating, A (default 32); writes above it are
	// an illegal data value.
	MaxCurrent float64
	// UpstreamTimeout makes a connector fall to state F4 (no current)
	// when no request reaches the box for this long; a write of 0x3032
	// ends it (default 0: no timeout, as evcc knows the eM4).
	UpstreamTimeout time.Duration
	// EnergyWh is each connector's lifetime energy at start (default
	// 1 234 560 Wh).
	EnergyWh float64
	Car      simcar.Config
	Logger   *slog.Logger
}

// Simulator is an eM4 on a real Modbus TCP server, unit 255.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger

	mu    sync.Mutex
	conns []*simConnector
	heard time.Time
}

type simConnector struct {
	car       *simcar.Car
	setpoint  uint16 // 0.1 A
	timedOut  bool
	fallbacks int
	fault     bool
	baseWh    float64
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// ConnectorSnapshot is one connector's state.
type ConnectorSnapshot struct {
	Setpoint  float64 // 0x3032, A
	Applied   float64 // what the pilot offers, A
	State     uint8
	TimedOut  bool // in F4
	Fallbacks int
	Car       simcar.Reading
}

// Snapshot is every connector's state and the counters.
type Snapshot struct {
	Connectors []ConnectorSnapshot
	Counters
	Masters int
}

// NewSimulator returns a stopped simulator with every car unplugged and
// 16 A set.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Connectors != 2 {
		cfg.Connectors = 1
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = maxCurrent
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234560
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "abl_em4"), heard: time.Now()}
	for i := 0; i < cfg.Connectors; i++ {
		s.conns = append(s.conns, &simConnector{car: simcar.New(cfg.Car), setpoint: 160, baseWh: cfg.EnergyWh + float64(i)*1000})
	}
	s.harness = modbussim.New(modbussim.Config{Name: "abl_em4", Handler: handler{s: s},
		MaxClients: 4, Tick: s.tick, TickEvery: 20 * time.Millisecond,
		LogAttrs: []any{"connectors", cfg.Connectors}, Logger: s.log})
	return s
}

// tick moves the model on (upstream timeout, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
}

// Plug plugs the car of connector 1 in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugConnector(1, plugged) }

// PlugConnector plugs the car of connector n in or out.
func (s *Simulator) PlugConnector(n int, plugged bool) {
	s.with(n, func(c *simConnector) { c.car.Plug(plugged) })
}

// SetFault puts connector n in F2 (internal error) or back.
func (s *Simulator) SetFault(n int, fault bool) { s.with(n, func(c *simConnector) { c.fault = fault }) }

func (s *Simulator) with(n int, f func(*simConnector)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= 1 && n <= len(s.conns) {
		f(s.conns[n-1])
		s.update(time.Now())
	}
}

// Snapshot returns every connector's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Counters: s.Counters(), Masters: s.Masters()}
	for _, c := range s.conns {
		r := c.car.Read()
		snap.Connectors = append(snap.Connectors, ConnectorSnapshot{Setpoint: float64(c.setpoint) / 10,
			Applied: c.applied(), State: c.state(r), TimedOut: c.timedOut, Fallbacks: c.fallbacks, Car: r})
	}
	return snap
}

// update runs the upstream timeout and tells each car its offer.
func (s *Simulator) update(now time.Time) {
	for i, c := range s.conns {
		if s.cfg.UpstreamTimeout > 0 && !c.timedOut && now.Sub(s.heard) >= s.cfg.UpstreamTimeout {
			c.timedOut = true
			c.fallbacks++
			s.log.Info("upstream timeout, connector in F4", "connector", i+1)
		}
		a := c.applied()
		c.car.Offer(a, 3, a >= minCurrent)
	}
}

func (c *simConnector) applied() float64 {
	if c.timedOut || c.fault {
		return 0
	}
	return float64(c.setpoint) / 10
}

// state is the state byte (ABL §3.4).
func (c *simConnector) state(r simcar.Reading) uint8 {
	switch {
	case c.fault:
		return 0xF2
	case c.timedOut:
		return 0xF4
	case !r.Plugged:
		return 0xA1
	case r.Charging:
		return 0xC2
	case c.applied() >= minCurrent:
		return 0xB2
	}
	return 0xB1
}

// registers is connector c's two blocks, keyed by connector 1 address.
func (c *simConnector) registers() map[uint16]uint16 {
	r := c.car.Read()
	m := map[uint16]uint16{}
	put := func(a uint16, v uint32) {
		w := modbusx.EncodeUint32(v, modbusx.HighWordFirst)
		m[a], m[a+1] = w[0], w[1]
	}
	for i := uint16(0); i < 3; i++ {
		put(regCurrentL1+2*i, uint32(math.Round(r.Currents[i]*10)))
		put(regVoltageL1+2*i, uint32(math.Round(r.Voltages[i]*10)))
	}
	put(regPower, uint32(math.Round(r.Power)))
	put(regEnergy, uint32((c.baseWh+r.TotalWh)/10))
	m[regState] = uint16(c.state(r))
	m[regMaxCurrent] = c.setpoint
	return m
}

// runSimulator serves `evbridge sim abl_em4`: an eM4 Single with a car.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
