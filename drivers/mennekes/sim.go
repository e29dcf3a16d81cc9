package mennekes

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

// SimConfig sets up a simulated AMTRON; zero fields take the defaults.
type SimConfig struct {
	// Family is "hcc3" (default) or "bender".
	Family string
	// Rated is the box's rated current (default 32 A), Install the
	// installation current that caps every limit (default 16 A).
	Rated, Install uint16
	// WatchdogTimeout makes the box fall back to SafeCurrent (default
	// 6 A) unless its limit register is written within it (default 0:
	// none, as the documents know it).
	WatchdogTimeout time.Duration
	SafeCurrent     float64
	// Identity: Serial (HCC3; default 12345678), Name (default "AMTRON
	// Xtra" or "AMTRON Pro"), Firmware (Bender; default "5.22").
	Serial         uint32
	Name, Firmware string
	// EnergyWh is the lifetime energy at start (Bender; default 4321000).
	EnergyWh float64
	Car      simcar.Config
	Logger   *slog.Logger
}

// Simulator is an AMTRON on a real Modbus TCP server, unit 255.
type Simulator struct {
	cfg SimConfig
	log *slog.Logger
	car *simcar.Car

	mu        sync.Mutex
	limit     uint16 // A
	paused    bool   // HCC3 1025: 1 pause, 2 continue
	written   time.Time
	tripped   bool
	fallbacks int
	fault     bool
	srv       *modbus.ModbusServer
	addr      string
	stop      chan struct{}
	// Faults: the next busy requests get "device busy", the next drop
	// reads close the connection unanswered, every request waits delay.
	busy, drop int
	delay      time.Duration
	reqs       Counters
	masters    map[string]struct{}
}

// Counters count the requests the simulator answered (or refused).
type Counters struct {
	Requests, Reads, Writes uint64
}

// Snapshot is the box's state and counters.
type Snapshot struct {
	Limit     float64 // the limit register, A
	Applied   float64 // what the pilot offers, A
	Paused    bool
	Tripped   bool // the watchdog ran out; a write of the limit ends it
	Fallbacks int
	Car       simcar.Reading
	Counters
	Masters int
}

// NewSimulator returns a stopped simulator with the car unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Family != "bender" {
		cfg.Family = "hcc3"
	}
	if cfg.Rated == 0 {
		cfg.Rated = 32
	}
	if cfg.Install == 0 {
		cfg.Install = 16
	}
	if cfg.SafeCurrent <= 0 {
		cfg.SafeCurrent = minCurrent
	}
	if cfg.Serial == 0 {
		cfg.Serial = 12345678
	}
	if cfg.Name == "" {
		cfg.Name = map[string]string{"hcc3": "AMTRON Xtra", "bender": "AMTRON Pro"}[cfg.Family]
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "5.22"
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 4321000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "mennekes", "family", cfg.Family),
		car: simcar.New(cfg.Car), limit: cfg.Install, written: time.Now(), masters: map[string]struct{}{}}
}

// Start serves on addr (port 0 picks a free port) until ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	var srv *modbus.ModbusServer
	var err error
	for try := 0; try < 5; try++ {
		var a string
		if a, err = bindable(addr); err != nil {
			return fmt.Errorf("mennekes sim: %w", err)
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
		return fmt.Errorf("mennekes sim: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.srv, s.addr, s.stop = srv, addr, make(chan struct{})
	stop := s.stop
	s.mu.Unlock()
	go s.run(ctx, stop)
	s.log.Info("simulator listening", "addr", addr)
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

// Plug plugs the car in or out.
func (s *Simulator) Plug(plugged bool) { s.with(func() { s.car.Plug(plugged) }) }

// SetFault puts the box in its error state or back.
func (s *Simulator) SetFault(fault bool) { s.with(func() { s.fault = fault }) }

func (s *Simulator) with(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.update(time.Now())
}

// Busy makes the next n requests fail with "server device busy".
func (s *Simulator) Busy(n int) { s.with(func() { s.busy = n }) }

// Drop makes the next n reads close the connection without an answer.
func (s *Simulator) Drop(n int) { s.with(func() { s.drop = n }) }

// Delay makes every request wait d before it is answered.
func (s *Simulator) Delay(d time.Duration) { s.with(func() { s.delay = d }) }

// Counters returns the request counters.
func (s *Simulator) Counters() Counters { s.mu.Lock(); defer s.mu.Unlock(); return s.reqs }

// Snapshot returns the box's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	return Snapshot{Limit: float64(s.limit), Applied: s.applied(), Paused: s.paused, Tripped: s.tripped,
		Fallbacks: s.fallbacks, Car: s.car.Read(), Counters: s.reqs, Masters: len(s.masters)}
}

// update runs the watchdog and tells the car its offer; s.mu is held.
func (s *Simulator) update(now time.Time) {
	if s.cfg.WatchdogTimeout > 0 && !s.tripped && now.Sub(s.written) >= s.cfg.WatchdogTimeout {
		s.tripped = true
		s.fallbacks++
		s.log.Info("no energy manager, safe current applies", "amps", s.cfg.SafeCurrent)
	}
	a := s.applied()
	s.car.Offer(a, 3, a >= minCurrent)
}

// applied is what the pilot offers, A.
func (s *Simulator) applied() float64 {
	switch {
	case s.fault, s.paused:
		return 0
	case s.tripped:
		return s.cfg.SafeCurrent
	}
	return float64(min(s.limit, s.cfg.Install))
}

// runSimulator serves `evbridge sim mennekes`: an HCC3 with a car.
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

// u32 stores v at a in m, low word first (HCC3) or high word first.
func u32(m map[uint16]uint16, a uint16, v float64, o modbusx.WordOrder) {
	w := modbusx.EncodeUint32(uint32(math.Round(v)), o)
	m[a], m[a+1] = w[0], w[1]
}
