package kebamodbus

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated station; zero fields take the defaults.
type SimConfig struct {
	// Product is the product code of 1016 (default 304111, KEBA §3.8's
	// example: P30, socket, 32 A, c-series, meter, RFID). A 7-digit code
	// starting with 4 makes a P40.
	Product uint32
	// Serial (default 18416854) and Firmware (default 0x030A2A00, 3.10.42).
	Serial, Firmware uint32
	// MaxCurrent is the DIP switch limit, A (default 32).
	MaxCurrent float64
	// FailsafeTimeout (s) and FailsafeCurrent (A) at power-on (default 0:
	// no failsafe).
	FailsafeTimeout int
	FailsafeCurrent float64
	// FailsafeMin is the shortest failsafe timeout 5018 accepts (default
	// 10 s, KEBA UDP guide §3.3.3); tests lower it to stay quick.
	FailsafeMin int
	// PhaseSwitch fits a KeContact S10 phase switch.
	PhaseSwitch bool
	// EnergyTenths counts 1036 and 1502 in 0.1 Wh instead of Wh.
	EnergyTenths bool
	// EnergyWh is the lifetime energy at start (default 38101 Wh).
	EnergyWh float64
	Car      simcar.Config
	Logger   *slog.Logger
}

// Simulator is a KEBA station on a real Modbus TCP server.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger
	car *simcar.Car

	mu sync.Mutex
	// Station state.
	userMA, fsMA     uint32 // 5004, 5016
	enabled          bool   // 5014
	fsTimeout        uint32 // 5018, s
	fsArmed          time.Time
	tripped          bool
	fallbacks        int
	phaseSrc         uint32
	threePhase       bool
	fault            bool
	setEnergy, unlks uint32
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// Snapshot is the station's state and counters.
type Snapshot struct {
	UserCurrent     float64 // last 5004, A (63 at power-on)
	Enabled         bool    // 5014
	Offered         float64 // 1100, A
	Phases          int
	FailsafeTimeout int  // s
	Tripped         bool // the failsafe current is in force
	Fallbacks       int  // times the failsafe timer ran out
	State, Cable    uint32
	Car             simcar.Reading
	Counters
	Masters int // distinct client connections seen
}

// NewSimulator returns a stopped simulator with the car unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Product == 0 {
		cfg.Product = 304111
	}
	if cfg.Serial == 0 {
		cfg.Serial = 18416854
	}
	if cfg.Firmware == 0 {
		cfg.Firmware = 0x030A2A00
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 32
	}
	if cfg.FailsafeMin <= 0 {
		cfg.FailsafeMin = minFailsafeTimeout
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 38101
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "keba_modbus"), car: simcar.New(cfg.Car),
		userMA: 63000, enabled: true, threePhase: true,
		fsTimeout: uint32(cfg.FailsafeTimeout), fsMA: uint32(cfg.FailsafeCurrent * 1000), fsArmed: time.Now()}
	s.harness = modbussim.New(modbussim.Config{Name: "keba_modbus", Handler: handler{s: s},
		MaxClients: 4, Tick: s.tick, TickEvery: 50 * time.Millisecond, Logger: s.log})
	return s
}

// p40 tells whether the simulated product is a P40.
func (s *Simulator) p40() bool { return s.cfg.Product >= 4000000 && s.cfg.Product < 5000000 }

// tick moves the model on (failsafe, car offers).
func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
}

// Plug plugs the car in or out.
func (s *Simulator) Plug(plugged bool) { s.with(func() { s.car.Plug(plugged) }) }

// SetFault puts the station in state 4 (error) or back.
func (s *Simulator) SetFault(fault bool) { s.with(func() { s.fault = fault }) }

func (s *Simulator) with(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.update(time.Now())
}

// Snapshot returns the station's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	r := s.car.Read()
	ph := 3
	if !s.threePhase {
		ph = 1
	}
	return Snapshot{UserCurrent: float64(s.userMA) / 1000, Enabled: s.enabled,
		Offered: float64(s.offered()) / 1000, Phases: ph, FailsafeTimeout: int(s.fsTimeout),
		Tripped: s.tripped, Fallbacks: s.fallbacks, State: s.state(r), Cable: s.cable(r), Car: r,
		Counters: s.Counters(), Masters: s.Masters()}
}

// update trips the failsafe and tells the car its offer; s.mu is held.
func (s *Simulator) update(now time.Time) {
	if s.fsTimeout > 0 && !s.tripped && now.Sub(s.fsArmed) >= time.Duration(s.fsTimeout)*time.Second {
		s.tripped = true
		s.fallbacks++
		s.log.Info("failsafe timeout, failsafe current applies", "mA", s.fsMA)
	}
	ph := 3
	if !s.threePhase {
		ph = 1
	}
	a := float64(s.offered()) / 1000
	s.car.Offer(a, ph, a >= minCurrent && !s.fault)
}

// offered is 1100: what the pilot offers, mA.
func (s *Simulator) offered() uint32 {
	hw := uint32(s.cfg.MaxCurrent * 1000)
	switch {
	case s.fault:
		return 0
	case s.tripped:
		return min(s.fsMA, hw)
	case !s.enabled:
		return 0
	}
	return min(s.userMA, hw)
}

// state is 1000 (KEBA §3.1).
func (s *Simulator) state(r simcar.Reading) uint32 {
	switch {
	case s.fault:
		return stateError
	case !r.Plugged || s.offered() < 6000:
		return stateNotReady
	case r.Charging:
		return stateCharging
	}
	return stateReady
}

// cable is 1004: 7 plugged at both ends and locked; unplugged, 0 for a
// socket and 3 for a fixed cable (second digit of the product code).
func (s *Simulator) cable(r simcar.Reading) uint32 {
	switch {
	case r.Plugged:
		return 7
	case len(strconv.Itoa(int(s.cfg.Product))) > 1 && strconv.Itoa(int(s.cfg.Product))[1] == '1':
		return 3
	}
	return 0
}

// runSimulator serves `evbridge sim keba_modbus`: a P30 with a car.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
