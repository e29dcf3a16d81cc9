package heidelberg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/simcar"
	"github.com/simonvetter/modbus"
)

// SimConfig sets up a gateway with boxes behind it; zero fields take the
// defaults.
type SimConfig struct {
	// Units are the bus ids of the boxes (default [1]).
	Units []uint8
	// Framing is "rtu_over_tcp" (default: a transparent gateway, served by
	// this package's own RTU server, as simonvetter/modbus serves Modbus
	// TCP only) or "tcp" (a translating gateway, on modbus.NewServer).
	Framing string
	// WatchdogMS is 257 at power-on, ms (default 15000).
	WatchdogMS uint16
	// FailsafeCurrent is 262 at power-on, A (default 0: stop charging).
	FailsafeCurrent float64
	// HWMax is the current set on the box's switches, A (default 16).
	HWMax uint16
	// EnergyWh is each box's energy since installation at start (default
	// 1 234 567 Wh).
	EnergyWh float64
	Car      simcar.Config
	Logger   *slog.Logger
}

// Simulator is a gateway with Heidelberg boxes behind it.
type Simulator struct {
	cfg   SimConfig
	log   *slog.Logger
	start time.Time

	mu    sync.Mutex
	boxes map[uint8]*box
	srv   *modbus.ModbusServer
	rtu   *rtuServer
	addr  string
	stop  chan struct{}
	// Faults: the next busy requests get "device busy", the next drop
	// reads close the connection unanswered, every request waits delay.
	busy, drop int
	delay      time.Duration
	reqs       Counters
	masters    map[string]struct{}
}

type box struct {
	unit                              uint8
	car                               *simcar.Car
	watchdogMS, standby, lock         uint16
	setpoint, failsafe                uint16 // 0.1 A
	heard                             time.Time
	tripped                           bool
	fallbacks                         int
	fault                             bool
	installWh                         float64
	logistic                          string
	variant, revision, hwMax, layouts uint16
}

// Counters count the requests the boxes answered (or refused).
type Counters struct {
	Requests, Reads, Writes uint64
}

// BoxSnapshot is one box's state.
type BoxSnapshot struct {
	Setpoint  float64 // 261, A
	Failsafe  float64 // 262, A
	Applied   float64 // what the pilot offers, A
	Watchdog  time.Duration
	Standby   uint16
	Locked    bool
	Tripped   bool // the watchdog ran out; cleared by a write of 261
	Fallbacks int
	State     uint16
	Car       simcar.Reading
}

// Snapshot is every box's state and the counters.
type Snapshot struct {
	Boxes map[uint8]BoxSnapshot
	Counters
	Masters int // distinct client connections seen
}

// errNoUnit: no box has the addressed unit id.
var errNoUnit = errors.New("no such unit")

// NewSimulator returns a stopped gateway with every car unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if len(cfg.Units) == 0 {
		cfg.Units = []uint8{1}
	}
	if cfg.Framing == "" {
		cfg.Framing = "rtu_over_tcp"
	}
	if cfg.WatchdogMS == 0 {
		cfg.WatchdogMS = 15000
	}
	if cfg.HWMax == 0 {
		cfg.HWMax = 16
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234567
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "heidelberg"), start: now,
		boxes: map[uint8]*box{}, masters: map[string]struct{}{}}
	for i, u := range cfg.Units {
		s.boxes[u] = &box{unit: u, car: simcar.New(cfg.Car), watchdogMS: cfg.WatchdogMS, lock: 1,
			setpoint: cfg.HWMax * 10, failsafe: uint16(cfg.FailsafeCurrent * 10), heard: now,
			installWh: cfg.EnergyWh + float64(i)*1000, logistic: fmt.Sprintf("HEC-%08d", 1000+int(u)),
			variant: 1, revision: 2480, hwMax: cfg.HWMax, layouts: layoutWithTotal}
	}
	return s
}

// Start serves on addr (port 0 picks a free port) until ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	var bound string
	var err error
	if s.cfg.Framing == "tcp" {
		bound, err = s.startTCP(addr)
	} else {
		bound, err = s.startRTU(addr)
	}
	if err != nil {
		return fmt.Errorf("heidelberg sim: listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.addr, s.stop = bound, make(chan struct{})
	stop := s.stop
	s.mu.Unlock()
	go s.run(ctx, stop)
	s.log.Info("simulator listening", "addr", bound, "framing", s.cfg.Framing, "units", s.cfg.Units)
	return nil
}

func (s *Simulator) startTCP(addr string) (string, error) {
	var err error
	for try := 0; try < 5; try++ {
		var a string
		if a, err = bindable(addr); err != nil {
			return "", err
		}
		var srv *modbus.ModbusServer
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + a, Timeout: time.Minute,
			MaxClients: 4, Logger: modbusx.LibLogger(s.log)}, handler{s})
		if err == nil {
			if err = srv.Start(); err == nil {
				s.mu.Lock()
				s.srv = srv
				s.mu.Unlock()
				return a, nil
			}
		}
	}
	return "", err
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

// run moves the model on (watchdog, car offers) every 20 ms.
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

// Addr is the address the gateway listens on.
func (s *Simulator) Addr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.addr }

// Close stops serving and drops every connection.
func (s *Simulator) Close() error {
	s.mu.Lock()
	srv, rtu, stop := s.srv, s.rtu, s.stop
	s.srv, s.rtu, s.stop = nil, nil, nil
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	if rtu != nil {
		return rtu.close()
	}
	return srv.Stop()
}

// Plug plugs the car of the first box in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugUnit(s.cfg.Units[0], plugged) }

// PlugUnit plugs the car of box unit in or out.
func (s *Simulator) PlugUnit(unit uint8, plugged bool) {
	s.withBox(unit, func(b *box) { b.car.Plug(plugged) })
}

// SetFault puts box unit in state 11 (error) or back.
func (s *Simulator) SetFault(unit uint8, fault bool) {
	s.withBox(unit, func(b *box) { b.fault = fault })
}

func (s *Simulator) withBox(unit uint8, f func(*box)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boxes[unit]; b != nil {
		f(b)
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

// Snapshot returns every box's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Boxes: map[uint8]BoxSnapshot{}, Counters: s.reqs, Masters: len(s.masters)}
	for u, b := range s.boxes {
		r := b.car.Read()
		snap.Boxes[u] = BoxSnapshot{Setpoint: float64(b.setpoint) / 10, Failsafe: float64(b.failsafe) / 10,
			Applied: b.applied(), Watchdog: time.Duration(b.watchdogMS) * time.Millisecond, Standby: b.standby,
			Locked: b.lock == 0, Tripped: b.tripped, Fallbacks: b.fallbacks, State: b.state(r), Car: r}
	}
	return snap
}

// update runs each box's watchdog and tells its car the offer; s.mu is
// held. On expiry the box takes the failsafe current as its current.
func (s *Simulator) update(now time.Time) {
	for u, b := range s.boxes {
		wd := time.Duration(b.watchdogMS) * time.Millisecond
		if wd > 0 && !b.tripped && now.Sub(b.heard) >= wd {
			b.tripped, b.setpoint = true, b.failsafe
			b.fallbacks++
			s.log.Info("watchdog ran out, failsafe current applies", "unit", u, "failsafe", float64(b.failsafe)/10)
		}
		a := b.applied()
		b.car.Offer(a, 3, a >= minCurrent && !b.fault)
	}
}

// applied is the current the pilot offers, A.
func (b *box) applied() float64 {
	if b.lock == 0 || b.fault {
		return 0
	}
	return min(float64(b.setpoint)/10, float64(b.hwMax))
}

// state is HEC reg 5.
func (b *box) state(r simcar.Reading) uint16 {
	pwm := b.applied() >= minCurrent
	switch {
	case b.fault:
		return 11
	case b.lock == 0:
		return 10
	case !r.Plugged && pwm:
		return 3
	case !r.Plugged:
		return 2
	case r.Charging:
		return 7
	case !pwm && !r.Full:
		return 6 // the car asks, no current offered
	case !pwm:
		return 4
	}
	return 5
}

// runSimulator serves `evbridge sim heidelberg`: one box, unit 1, with a
// car, behind a transparent gateway.
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
