package heidelberg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
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
	// The harness serves the framing (RTU via Listen) and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg   SimConfig
	log   *slog.Logger
	start time.Time

	mu    sync.Mutex
	boxes map[uint8]*box
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
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

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
		boxes: map[uint8]*box{}}
	for i, u := range cfg.Units {
		s.boxes[u] = &box{unit: u, car: simcar.New(cfg.Car), watchdogMS: cfg.WatchdogMS, lock: 1,
			setpoint: cfg.HWMax * 10, failsafe: uint16(cfg.FailsafeCurrent * 10), heard: now,
			installWh: cfg.EnergyWh + float64(i)*1000, logistic: fmt.Sprintf("HEC-%08d", 1000+int(u)),
			variant: 1, revision: 2480, hwMax: cfg.HWMax, layouts: layoutWithTotal}
	}
	var listen func(string) (string, func() error, error) // the library's Modbus TCP server
	if cfg.Framing != "tcp" {
		listen = s.startRTU
	}
	s.harness = modbussim.New(modbussim.Config{Name: "heidelberg", Handler: handler{s: s},
		MaxClients: 4, Tick: s.tick, TickEvery: 20 * time.Millisecond, Listen: listen,
		LogAttrs: []any{"framing", cfg.Framing, "units", cfg.Units}, Logger: s.log})
	return s
}

// tick moves the model on (watchdog, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
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

// Snapshot returns every box's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Boxes: map[uint8]BoxSnapshot{}, Counters: s.Counters(), Masters: s.Masters()}
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
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
