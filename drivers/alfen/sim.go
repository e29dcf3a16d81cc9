package alfen

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

// SimConfig sets up a simulated station; zero fields take the defaults.
type SimConfig struct {
	// Sockets is 1 (Eve Single, default) or 2 (Eve Double).
	Sockets int
	// Validity is the station's validity time (default 60 s, ALF §1.1).
	Validity time.Duration
	// SafeCurrent is the active load balancing safe current, A (default 6).
	SafeCurrent float64
	// MaxCurrent is the station's max current, A (default 32); writes
	// above it are refused with illegal data value.
	MaxCurrent float64
	// EnergyWh is each socket meter's lifetime energy at start (default
	// 1 234 567 Wh).
	EnergyWh float64
	// Car configures the car on each socket.
	Car simcar.Config
	// Identity registers (ALF §3.1); defaults are the document's examples.
	Name, Firmware, Platform, Serial string
	// KeepAlive closes a master idle this long (default 60 s, ALF §1).
	KeepAlive time.Duration
	// MaxMasters is how many masters may connect at once (default 2, ALF §1).
	MaxMasters int
	// SplitReads accepts reads that cut a multi-register value. By
	// default they get illegal data address, as reported of one Alfen
	// firmware (third-party), so drivers are tested against the strict case.
	SplitReads bool
	Logger     *slog.Logger
}

// Simulator is an Alfen NG9xx station on a real Modbus TCP server.
type Simulator struct {
	cfg   SimConfig
	log   *slog.Logger
	start time.Time

	mu      sync.Mutex
	sockets []*simSocket
	scn     [3]scnPhase
	srv     *modbus.ModbusServer
	addr    string
	stop    chan struct{}
	// Faults: the next busy requests get "device busy", the next drop
	// reads close the connection unanswered, every request waits delay.
	busy, drop int
	delay      time.Duration
	reqs       Counters
	masters    map[string]struct{}
}

type simSocket struct {
	car       *simcar.Car
	setpoint  float64 // last value written to 1210, A; NaN before any
	setAt     time.Time
	valid     bool // setpoint in force (not yet expired)
	phases    int
	fallbacks int
	fault     bool
	baseWh    float64
}

type scnPhase struct {
	max   float64 // NaN before any write
	setAt time.Time
}

// Counters count the requests the simulator answered (or refused).
type Counters struct {
	Requests, Reads, Writes uint64
}

// SocketSnapshot is one socket's state.
type SocketSnapshot struct {
	Setpoint      float64 // last written max current, A (NaN if none)
	SetpointValid bool
	ValidLeft     time.Duration
	Applied       float64 // actual applied max current, A
	Phases        int
	Fallbacks     int // times the validity ran out and the safe current took over
	Mode3         string
	Car           simcar.Reading
}

// Snapshot is the simulator's state and counters.
type Snapshot struct {
	Sockets []SocketSnapshot
	Counters
	// Masters is the number of distinct client connections seen.
	Masters int
}

// NewSimulator returns a stopped simulator with every socket unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Sockets != 2 {
		cfg.Sockets = 1
	}
	if cfg.Validity <= 0 {
		cfg.Validity = defaultValidity * time.Second
	}
	if cfg.SafeCurrent <= 0 {
		cfg.SafeCurrent = minCurrent
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = maxCurrent
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234567
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 60 * time.Second
	}
	if cfg.MaxMasters <= 0 {
		cfg.MaxMasters = 2
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Name, "ALF_1000")
	def(&cfg.Firmware, "4.10.0-3000")
	def(&cfg.Platform, "NG910")
	def(&cfg.Serial, "00000R000")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "alfen"), start: time.Now(), masters: map[string]struct{}{}}
	for i := 0; i < cfg.Sockets; i++ {
		s.sockets = append(s.sockets, &simSocket{car: simcar.New(cfg.Car), setpoint: math.NaN(),
			phases: 3, baseWh: cfg.EnergyWh + float64(i)*1000})
	}
	for i := range s.scn {
		s.scn[i].max = math.NaN()
	}
	return s
}

// Start serves on addr (port 0 picks a free port) until ctx ends or
// Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	var srv *modbus.ModbusServer
	var err error
	for try := 0; try < 5; try++ {
		var a string
		if a, err = bindable(addr); err != nil {
			return fmt.Errorf("alfen sim: %w", err)
		}
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{
			URL: "tcp://" + a, Timeout: s.cfg.KeepAlive, MaxClients: uint(s.cfg.MaxMasters),
			Logger: modbusx.LibLogger(s.log),
		}, handler{s})
		if err == nil {
			if err = srv.Start(); err == nil {
				addr = a
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("alfen sim: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.srv, s.addr, s.stop = srv, addr, make(chan struct{})
	stop := s.stop
	s.mu.Unlock()
	go s.run(ctx, stop)
	s.log.Info("simulator listening", "addr", addr, "sockets", s.cfg.Sockets)
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

// run moves the model on (validity expiry, car offers) every 100 ms.
func (s *Simulator) run(ctx context.Context, stop chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
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
func (s *Simulator) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

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

// Plug plugs the car of socket 1 in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugSocket(1, plugged) }

// PlugSocket plugs the car of socket n (1 or 2) in or out.
func (s *Simulator) PlugSocket(n int, plugged bool) {
	s.withSocket(n, func(sk *simSocket) { sk.car.Plug(plugged) })
}

// SetFault puts socket n in mode 3 state F (EVSE fault) or back.
func (s *Simulator) SetFault(n int, fault bool) {
	s.withSocket(n, func(sk *simSocket) { sk.fault = fault })
}

func (s *Simulator) withSocket(n int, f func(*simSocket)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= 1 && n <= len(s.sockets) {
		f(s.sockets[n-1])
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

// Snapshot returns every socket's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	snap := Snapshot{Counters: s.reqs, Masters: len(s.masters)}
	for _, sk := range s.sockets {
		r := sk.car.Read()
		snap.Sockets = append(snap.Sockets, SocketSnapshot{
			Setpoint: sk.setpoint, SetpointValid: sk.valid, ValidLeft: s.validLeft(sk, now),
			Applied: s.applied(sk), Phases: sk.phases, Fallbacks: sk.fallbacks,
			Mode3: s.mode3(sk, r), Car: r,
		})
	}
	return snap
}

// update expires setpoints and tells each car what it is offered; the
// caller holds s.mu.
func (s *Simulator) update(now time.Time) {
	for i, sk := range s.sockets {
		if sk.valid && now.Sub(sk.setAt) >= s.cfg.Validity {
			sk.valid = false
			sk.fallbacks++
			s.log.Info("validity expired, safe current applies", "socket", i+1, "safe", s.cfg.SafeCurrent)
		}
		a := s.applied(sk)
		sk.car.Offer(a, sk.phases, a >= minCurrent && !sk.fault)
	}
}

// applied is the actual applied max current (1206): the setpoint while
// valid, else the safe current, capped by the station maximum.
func (s *Simulator) applied(sk *simSocket) float64 {
	a := s.cfg.SafeCurrent
	if sk.valid {
		a = sk.setpoint
	}
	return min(a, s.cfg.MaxCurrent)
}

func (s *Simulator) validLeft(sk *simSocket, now time.Time) time.Duration {
	if !sk.valid {
		return 0
	}
	return max(s.cfg.Validity-now.Sub(sk.setAt), 0)
}

// mode3 derives the Mode 3 state (ALF §3.4.1) from car and offer.
func (s *Simulator) mode3(sk *simSocket, r simcar.Reading) string {
	pwm := s.applied(sk) >= minCurrent
	switch {
	case sk.fault:
		return "F"
	case !r.Plugged:
		return "A"
	case r.Charging:
		return "C2"
	case !pwm && !r.Full:
		return "C1" // the car asks for power, none offered
	case !pwm:
		return "B1"
	}
	return "B2"
}

// runSimulator serves `evbridge sim alfen`: an Eve Single with a car.
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
