package webastonext

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated Webasto Next; zero fields take the
// defaults.
type SimConfig struct {
	// Units are the unit ids answered, one station each (default 255
	// only). More than one stands for stations behind a gateway.
	Units []uint8
	// Phases is how the station is wired, 1 or 3 (default 3).
	Phases int
	// ComTimeout (default 20 s) and SafeCurrent (default 6 A) are
	// registers 2002 and 2000 at start.
	ComTimeout  time.Duration
	SafeCurrent int
	// MaxCurrent is the station maximum (1104), A (default 16, the 11 kW
	// Next); 5004 refuses more with illegal data value.
	MaxCurrent int
	// EnergyWh is the meter reading at start (default 1 234 567 Wh).
	EnergyWh float64
	// Car configures the car of each station.
	Car simcar.Config
	// MaxMasters is how many masters may connect at once (default 2; SPEC
	// does not say).
	MaxMasters int
	Logger     *slog.Logger
}

// Simulator is a Webasto Next on a real Modbus TCP server.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger

	mu       sync.Mutex
	stations map[uint8]*station
}

// station is one Next behind the server.
type station struct {
	car        *simcar.Car
	setpoint   int    // 5004 as last written, A; -1: none since start or lapse
	safe       uint16 // 2000, A
	comTimeout uint16 // 2002, s
	life       uint16 // 6000
	lastLife   time.Time
	nextCheck  time.Time
	lapsed     bool // the life bit was not kept: the safe current applies
	fallbacks  int
	cancelled  bool // 5006 = 2 ended the session
	fault      bool
	plugAt     time.Time
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// StationSnapshot is one station's state.
type StationSnapshot struct {
	Setpoint   int  // 5004 as last written, A; -1 none
	Applied    int  // the current offered, A
	Lapsed     bool // the safe current applies after a missed life bit
	Fallbacks  int  // times the life bit lapsed
	LifeBit    int  // 6000 as it reads now
	Cancelled  bool
	ComTimeout int // s
	Safe       int // A
	CPState    int // register 1000
	Car        simcar.Reading
}

// Snapshot is the simulator's state and counters.
type Snapshot struct {
	Stations map[uint8]StationSnapshot
	Counters
	// Masters is the number of distinct client connections seen.
	Masters int
}

// NewSimulator returns a stopped simulator with every car unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if len(cfg.Units) == 0 {
		cfg.Units = []uint8{defaultUnit}
	}
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	if cfg.ComTimeout <= 0 {
		cfg.ComTimeout = defaultComTimeout * time.Second
	}
	if cfg.SafeCurrent <= 0 {
		cfg.SafeCurrent = minCurrent
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 16
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234567
	}
	if cfg.MaxMasters <= 0 {
		cfg.MaxMasters = 2
	}
	if cfg.Car.MaxCurrent <= 0 {
		cfg.Car.MaxCurrent = 16 // simcar's default, which 1108 reports
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "webasto_next"), stations: map[uint8]*station{}}
	now := time.Now()
	for _, u := range cfg.Units {
		st := &station{car: simcar.New(cfg.Car), setpoint: -1, safe: uint16(cfg.SafeCurrent),
			comTimeout: uint16(cfg.ComTimeout / time.Second), lastLife: now}
		st.nextCheck = now.Add(checkPeriod(st))
		s.stations[u] = st
	}
	s.harness = modbussim.New(modbussim.Config{Name: "webasto_next", Handler: handler{s: s},
		MaxClients: uint(cfg.MaxMasters), Tick: s.tick,
		LogAttrs: []any{"units", fmt.Sprint(cfg.Units)}, Logger: s.log})
	return s
}

// tick moves the model on (life bit checks, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
}

// Plug plugs the car of the first unit in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugUnit(s.cfg.Units[0], plugged) }

// PlugUnit plugs the car of unit in or out; a new plug-in starts a new
// session.
func (s *Simulator) PlugUnit(unit uint8, plugged bool) {
	s.with(unit, func(st *station) {
		if plugged && !st.car.Read().Plugged {
			st.plugAt, st.cancelled = time.Now(), false
		}
		st.car.Plug(plugged)
	})
}

// SetFault puts the station of unit in charging error (state 7) or back.
func (s *Simulator) SetFault(unit uint8, fault bool) {
	s.with(unit, func(st *station) { st.fault = fault })
}

func (s *Simulator) with(unit uint8, f func(*station)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stations[unit]; st != nil {
		f(st)
		s.update(time.Now())
	}
}

// Snapshot returns every station's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Stations: map[uint8]StationSnapshot{}, Counters: s.Counters(), Masters: s.Masters()}
	for u, st := range s.stations {
		r := st.car.Read()
		snap.Stations[u] = StationSnapshot{
			Setpoint: st.setpoint, Applied: s.applied(st, r), Lapsed: st.lapsed, Fallbacks: st.fallbacks,
			LifeBit: int(st.life), Cancelled: st.cancelled, ComTimeout: int(st.comTimeout), Safe: int(st.safe),
			CPState: s.cpState(st, r), Car: r,
		}
	}
	return snap
}

// checkPeriod is how often the station checks the life bit: half the
// timeout (SPEC gives no period; this mirrors the EVC04's).
func checkPeriod(st *station) time.Duration {
	return max(time.Duration(st.comTimeout)*time.Second/2, 100*time.Millisecond)
}

// update runs the life bit checks and tells each car what it is offered;
// the caller holds s.mu.
func (s *Simulator) update(now time.Time) {
	for u, st := range s.stations {
		for !now.Before(st.nextCheck) {
			at := st.nextCheck
			st.nextCheck = at.Add(checkPeriod(st))
			if st.life == 1 {
				st.life = 0
				continue
			}
			timeout := time.Duration(st.comTimeout) * time.Second
			if timeout > 0 && !st.lapsed && at.Sub(st.lastLife) >= timeout {
				st.lapsed, st.setpoint = true, -1
				st.fallbacks++
				s.log.Info("life bit not kept, safe current applies", "unit", u, "amps", st.safe)
			}
		}
		r := st.car.Read()
		a := float64(s.applied(st, r))
		st.car.Offer(a, s.cfg.Phases, a >= minCurrent && !st.fault)
	}
}

// applied is the current offered: the EMS's while it keeps the life bit
// and has set one, else the safe current; 0 after a cancelled session;
// never above the station, cable and car maxima.
func (s *Simulator) applied(st *station, r simcar.Reading) int {
	if st.cancelled || !r.Plugged {
		return 0
	}
	a := int(st.safe)
	if !st.lapsed && st.setpoint >= 0 {
		a = st.setpoint
	}
	return min(a, s.limit(r))
}

// limit is register 1100: the lowest of station, cable and car maxima.
func (s *Simulator) limit(r simcar.Reading) int {
	if !r.Plugged {
		return 0
	}
	return min(s.cfg.MaxCurrent, int(maxCurrent), int(s.cfg.Car.MaxCurrent))
}

// cpState derives register 1000 from car and offer.
func (s *Simulator) cpState(st *station, r simcar.Reading) int {
	switch {
	case st.fault:
		return 7
	case !r.Plugged:
		return 0
	case r.Charging:
		return 3
	case st.cancelled || r.SessionWh > 0:
		return 4
	}
	return 1
}

// runSimulator serves `evbridge sim webasto_next`: an 11 kW Next with a
// car.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
