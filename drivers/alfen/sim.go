package alfen

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
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
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg   SimConfig
	log   *slog.Logger
	start time.Time

	mu      sync.Mutex
	sockets []*simSocket
	scn     [3]scnPhase
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
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

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
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "alfen"), start: time.Now()}
	s.harness = modbussim.New(modbussim.Config{Name: "alfen", Handler: handler{s: s},
		IdleTimeout: cfg.KeepAlive, MaxClients: uint(cfg.MaxMasters), Tick: s.tick,
		LogAttrs: []any{"sockets", cfg.Sockets}, Logger: s.log})
	for i := 0; i < cfg.Sockets; i++ {
		s.sockets = append(s.sockets, &simSocket{car: simcar.New(cfg.Car), setpoint: math.NaN(),
			phases: 3, baseWh: cfg.EnergyWh + float64(i)*1000})
	}
	for i := range s.scn {
		s.scn[i].max = math.NaN()
	}
	return s
}

// tick moves the model on (validity expiry, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
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

// Snapshot returns every socket's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	snap := Snapshot{Counters: s.Counters(), Masters: s.Masters()}
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
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
