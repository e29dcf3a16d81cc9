package abl

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/simcar"
	"github.com/simonvetter/modbus"
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
	cfg SimConfig
	log *slog.Logger

	mu    sync.Mutex
	conns []*simConnector
	heard time.Time
	srv   *modbus.ModbusServer
	addr  string
	stop  chan struct{}
	// Faults: the next busy requests get "device busy", the next drop
	// reads close the connection unanswered, every request waits delay.
	busy, drop int
	delay      time.Duration
	reqs       Counters
	masters    map[string]struct{}
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
type Counters struct {
	Requests, Reads, Writes uint64
}

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
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "abl_em4"), heard: time.Now(), masters: map[string]struct{}{}}
	for i := 0; i < cfg.Connectors; i++ {
		s.conns = append(s.conns, &simConnector{car: simcar.New(cfg.Car), setpoint: 160, baseWh: cfg.EnergyWh + float64(i)*1000})
	}
	return s
}

// Start serves on addr (port 0 picks a free port) until ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	var srv *modbus.ModbusServer
	var err error
	for try := 0; try < 5; try++ {
		var a string
		if a, err = bindable(addr); err != nil {
			return fmt.Errorf("abl_em4 sim: %w", err)
		}
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + a, Timeout: time.Minute,
			MaxClients: 4, Logger: modbusx.LibLogger(s.log)}, handler{s})
		if err == nil {
			if err = srv.Start(); err == nil {
				addr = a
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("abl_em4 sim: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.srv, s.addr, s.stop = srv, addr, make(chan struct{})
	stop := s.stop
	s.mu.Unlock()
	go s.run(ctx, stop)
	s.log.Info("simulator listening", "addr", addr, "connectors", s.cfg.Connectors)
	return nil
}

// bindable turns a port 0 into a free port: the library binds itself and
// does not tell which port it got.
func bindable(addr string) (string, error) {
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

func (s *Simulator) run(ctx context.Context, stop chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			return
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.update(time.Now())
			s.mu.Unlock()
		}
	}
}

// Addr is the address the simulator listens on.
func (s *Simulator) Addr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.addr }

// Close stops serving and drops every connection.
func (s *Simulator) Close() error {
	s.mu.Lock()
	srv, stop := s.srv, s.stop
	s.srv, s.stop = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	close(stop)
	return srv.Stop()
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

// Busy makes the next n requests fail with "server device busy".
func (s *Simulator) Busy(n int) { s.mu.Lock(); s.busy = n; s.mu.Unlock() }

// Drop makes the next n reads close the connection without an answer.
func (s *Simulator) Drop(n int) { s.mu.Lock(); s.drop = n; s.mu.Unlock() }

// Delay makes every request wait d before it is answered.
func (s *Simulator) Delay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Counters returns the request counters.
func (s *Simulator) Counters() Counters { s.mu.Lock(); defer s.mu.Unlock(); return s.reqs }

// Snapshot returns every connector's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Counters: s.reqs, Masters: len(s.masters)}
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
	s := NewSimulator(SimConfig{Logger: slog.Default()})
	if err := s.Start(ctx, addr); err != nil {
		return err
	}
	s.Plug(true)
	if ready != nil {
		ready(s.Addr())
	}
	<-ctx.Done()
	return s.Close()
}
