package mennekes

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
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
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
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

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
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "mennekes", "family", cfg.Family),
		car: simcar.New(cfg.Car), limit: cfg.Install, written: time.Now()}
	s.harness = modbussim.New(modbussim.Config{Name: "mennekes", Handler: handler{s: s},
		MaxClients: 4, Tick: s.tick, TickEvery: 20 * time.Millisecond, Logger: s.log})
	return s
}

// tick moves the model on (watchdog, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
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

// Snapshot returns the box's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	return Snapshot{Limit: float64(s.limit), Applied: s.applied(), Paused: s.paused, Tripped: s.tripped,
		Fallbacks: s.fallbacks, Car: s.car.Read(), Counters: s.Counters(), Masters: s.Masters()}
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
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}

// u32 stores v at a in m, low word first (HCC3) or high word first.
func u32(m map[uint16]uint16, a uint16, v float64, o modbusx.WordOrder) {
	w := modbusx.EncodeUint32(uint32(math.Round(v)), o)
	m[a], m[a+1] = w[0], w[1]
}
