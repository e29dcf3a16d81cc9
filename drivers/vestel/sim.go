package vestel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated EVC04; zero fields take the defaults.
type SimConfig struct {
	// Units are the unit ids answered, one station each (default 255
	// only). More than one stands for stations behind a gateway.
	Units []uint8
	// Phases is how the station is installed, 1 or 3 (default 3).
	Phases int
	// NoPhaseSwitch simulates firmware before 3.187.0: register 405 is
	// unmapped.
	NoPhaseSwitch bool
	// FailsafeTimeout (default 20 s) and FailsafeCurrent (default 6 A)
	// are registers 2002 and 2000 at start.
	FailsafeTimeout time.Duration
	FailsafeCurrent int
	// MinCheck is the shortest period at which the station checks the
	// alive register (default 3 s, SPEC); tests shorten it.
	MinCheck time.Duration
	// MaxCurrent is the EVSE maximum, A (default 32); 5004 and 2000
	// refuse more with illegal data value.
	MaxCurrent int
	// EnergyWh is the meter reading at start (default 1 234 500 Wh).
	EnergyWh float64
	// Car configures the car of each station.
	Car simcar.Config
	// Identity strings (SPEC registers 100, 190, 210, 230).
	Serial, Brand, Model, Firmware string
	// MaxMasters is how many masters may connect at once (default 1,
	// SPEC).
	MaxMasters int
	Logger     *slog.Logger
}

// Simulator is an EVC04 on a real Modbus TCP server.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger

	mu        sync.Mutex
	stations  map[uint8]*station
	last      string          // the master of the last request
	terminate map[string]bool // masters whose link the station cuts
}

// station is one EVC04 behind the server.
type station struct {
	car         *simcar.Car
	setpoint    uint16 // 5004, A
	phaseSwitch uint16 // 405: 0 one phase, 1 three
	fsCurrent   uint16 // 2000, A
	fsTimeout   uint16 // 2002, s
	alive       uint16 // 6000
	lastAlive   time.Time
	nextCheck   time.Time
	failsafe    bool
	fallbacks   int
	fault       bool
	plugAt      time.Time
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// StationSnapshot is one station's state.
type StationSnapshot struct {
	Setpoint  int  // 5004, A
	Failsafe  bool // the failsafe current applies
	Fallbacks int  // times the alive register lapsed
	Alive     int  // 6000 as it reads now
	// Phases is what 405 selects (1 or 3); ActivePhases what the car gets.
	Phases, ActivePhases int
	FailsafeTimeout      int // s
	FailsafeCurrent      int // A
	CPState              int // register 1000
	Car                  simcar.Reading
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
	if cfg.FailsafeTimeout <= 0 {
		cfg.FailsafeTimeout = defaultFailsafe * time.Second
	}
	if cfg.FailsafeCurrent <= 0 {
		cfg.FailsafeCurrent = minCurrent
	}
	if cfg.MinCheck <= 0 {
		cfg.MinCheck = 3 * time.Second
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = maxCurrent
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234500
	}
	if cfg.MaxMasters <= 0 {
		cfg.MaxMasters = 1
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Serial, "EVC04000000001")
	def(&cfg.Brand, "VESTEL")
	def(&cfg.Model, "EVC04")
	def(&cfg.Firmware, "v3.187.0")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "vestel"), stations: map[uint8]*station{}, terminate: map[string]bool{}}
	now := time.Now()
	for _, u := range cfg.Units {
		st := &station{car: simcar.New(cfg.Car), setpoint: uint16(cfg.MaxCurrent),
			fsCurrent: uint16(cfg.FailsafeCurrent), fsTimeout: uint16(cfg.FailsafeTimeout / time.Second),
			lastAlive: now}
		st.phaseSwitch = s.defaultSwitch()
		st.nextCheck = now.Add(s.checkPeriod(st))
		s.stations[u] = st
	}
	s.harness = modbussim.New(modbussim.Config{Name: "vestel", Handler: handler{s: s},
		MaxClients: uint(cfg.MaxMasters), Tick: s.tick,
		LogAttrs: []any{"units", fmt.Sprint(cfg.Units)}, Logger: s.log})
	return s
}

// tick moves the model on (alive checks, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
}

// Plug plugs the car of the first unit in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugUnit(s.cfg.Units[0], plugged) }

// PlugUnit plugs the car of unit in or out.
func (s *Simulator) PlugUnit(unit uint8, plugged bool) {
	s.with(unit, func(st *station) {
		if plugged && !st.car.Read().Plugged {
			st.plugAt = time.Now()
		}
		st.car.Plug(plugged)
	})
}

// SetFault puts the station of unit in the Faulted state or back.
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
			Setpoint: int(st.setpoint), Failsafe: st.failsafe, Fallbacks: st.fallbacks, Alive: int(st.alive),
			Phases: 1 + 2*int(st.phaseSwitch), ActivePhases: s.activePhases(st),
			FailsafeTimeout: int(st.fsTimeout), FailsafeCurrent: int(st.fsCurrent),
			CPState: s.cpState(st, r), Car: r,
		}
	}
	return snap
}

// defaultSwitch is 405 after power-up or a dropped master: the
// installation's phases (SPEC v1.12).
func (s *Simulator) defaultSwitch() uint16 {
	if s.cfg.Phases == 3 {
		return 1
	}
	return 0
}

// checkPeriod is how often the station checks the alive register: half
// the failsafe timeout, never under MinCheck.
func (s *Simulator) checkPeriod(st *station) time.Duration {
	return max(time.Duration(st.fsTimeout)*time.Second/2, s.cfg.MinCheck)
}

// update runs the alive checks and tells each car what it is offered;
// the caller holds s.mu.
func (s *Simulator) update(now time.Time) {
	for u, st := range s.stations {
		for !now.Before(st.nextCheck) {
			at := st.nextCheck
			st.nextCheck = at.Add(s.checkPeriod(st))
			if st.alive == 1 {
				st.alive = 0
				continue
			}
			timeout := time.Duration(st.fsTimeout) * time.Second
			if timeout > 0 && !st.failsafe && at.Sub(st.lastAlive) >= timeout {
				st.failsafe, st.setpoint = true, st.fsCurrent
				st.fallbacks++
				s.disconnect(s.last) // SPEC: the TCP socket is terminated
				s.log.Info("alive register not kept, failsafe current applies", "unit", u, "amps", st.fsCurrent)
			}
		}
		a := float64(min(st.setpoint, uint16(s.cfg.MaxCurrent)))
		st.car.Offer(a, s.activePhases(st), a >= minCurrent && !st.fault)
	}
}

// disconnect marks master's link to be cut at its next request; the
// phase switch of every station returns to its default.
func (s *Simulator) disconnect(master string) {
	if master != "" {
		s.terminate[master] = true
	}
	for _, st := range s.stations {
		st.phaseSwitch = s.defaultSwitch()
	}
}

func (s *Simulator) activePhases(st *station) int {
	if s.cfg.Phases == 1 || st.phaseSwitch == 0 {
		return 1
	}
	return 3
}

// cpState derives register 1000 from car and offer.
func (s *Simulator) cpState(st *station, r simcar.Reading) int {
	switch {
	case st.fault:
		return 8
	case !r.Plugged:
		return 0
	case r.Charging:
		return 2
	case st.setpoint < minCurrent:
		return 3
	case r.Full || r.SessionWh > 0:
		return 4
	}
	return 1
}

// runSimulator serves `evbridge sim vestel`: a three-phase EVC04 with a
// car.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
