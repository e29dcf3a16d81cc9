package quasar

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated Quasar 1; zero fields take the defaults.
type SimConfig struct {
	// Units are the unit ids answered, one charger each (default 1 only).
	Units []uint8
	// IdleTimeout is register 88 at start (default 60 s); 0 s in the
	// register disables the fallback.
	IdleTimeout time.Duration
	// MaxPower is register 514 at start, W (default 7400).
	MaxPower int
	// Firmware and Serial are the identity registers (defaults 604 and
	// 123456789).
	Firmware uint16
	Serial   uint32
	// Car configures the car; it is single-phase (the Quasar's AC side)
	// and defaults to a 40 kWh battery and 32 A.
	Car simcar.Config
	// MaxMasters is how many masters may connect at once (default 2; MAP
	// does not say).
	MaxMasters int
	Logger     *slog.Logger
}

// Simulator is a Quasar 1 on a real Modbus TCP server.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger

	mu       sync.Mutex
	stations map[uint8]*station
}

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// station is one Quasar behind the server: its registers and its car.
type station struct {
	car                     *simcar.Car
	control, autostart, typ uint16 // 81, 82, 83
	idle                    uint16 // 88, s
	locked, action          uint16 // 256, 257
	current, power          int16  // 258 A, 260 W
	maxPower                uint16 // 514, W
	fault                   bool
	firmware                uint16
	serial                  uint32
	errs                    [errorRegs]uint16
	lastTraffic, lastStep   time.Time
	dischargedWh, kwh       float64 // kwh: the car's battery
	lapses                  int
}

// StationSnapshot is one charger's state.
type StationSnapshot struct {
	Control, Autostart, SetpointType int     // 81, 82, 83
	IdleTimeout                      int     // 88, s
	Locked, Action                   int     // 256, 257
	Current, PowerSetpoint           int     // 258 A, 260 W
	MaxPower                         int     // 514, W
	Applied                          int     // the current offered to the car, A
	Power                            float64 // 526, W: negative while discharging
	State                            int     // 537
	SoC                              float64 // %
	Lapses                           int     // times the idle timeout struck
	Car                              simcar.Reading
}

// Snapshot is the simulator's state and counters.
type Snapshot struct {
	Stations map[uint8]StationSnapshot
	Counters
	// Masters is the number of distinct client connections seen.
	Masters int
}

// NewSimulator returns a stopped simulator with every car unplugged and
// every charger under user control.
func NewSimulator(cfg SimConfig) *Simulator {
	if len(cfg.Units) == 0 {
		cfg.Units = []uint8{defaultUnit}
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.MaxPower <= 0 {
		cfg.MaxPower = int(maxWatts)
	}
	if cfg.Firmware == 0 {
		cfg.Firmware = 604
	}
	if cfg.Serial == 0 {
		cfg.Serial = 123456789
	}
	if cfg.MaxMasters <= 0 {
		cfg.MaxMasters = 2
	}
	cfg.Car.Phases = 1
	if cfg.Car.MaxCurrent <= 0 {
		cfg.Car.MaxCurrent = maxCurrent
	}
	if cfg.Car.BatteryKWh <= 0 {
		cfg.Car.BatteryKWh = 40
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "wallbox_quasar"), stations: map[uint8]*station{}}
	now := time.Now()
	for _, u := range cfg.Units {
		s.stations[u] = &station{car: simcar.New(cfg.Car), autostart: 1, idle: uint16(cfg.IdleTimeout / time.Second),
			maxPower: uint16(cfg.MaxPower), lastTraffic: now, lastStep: now, kwh: cfg.Car.BatteryKWh,
			firmware: cfg.Firmware, serial: cfg.Serial}
	}
	s.harness = modbussim.New(modbussim.Config{Name: "wallbox_quasar", Handler: handler{s: s},
		MaxClients: uint(cfg.MaxMasters), Tick: s.tick,
		LogAttrs: []any{"units", fmt.Sprint(cfg.Units)}, Logger: s.log})
	return s
}

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
			st.dischargedWh = 0
		}
		st.car.Plug(plugged)
	})
}

// SetFault puts the charger of unit in error (state 7, error register
// 539 = 0x0012) or back.
func (s *Simulator) SetFault(unit uint8, fault bool) {
	s.with(unit, func(st *station) {
		st.fault, st.errs = fault, [errorRegs]uint16{}
		if fault {
			st.errs[0] = 0x0012
		}
	})
}

func (s *Simulator) with(unit uint8, f func(*station)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stations[unit]; st != nil {
		f(st)
		s.update(time.Now())
	}
}

// Snapshot returns every charger's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Stations: map[uint8]StationSnapshot{}, Counters: s.Counters(), Masters: s.Masters()}
	for u, st := range s.stations {
		r := st.car.Read()
		snap.Stations[u] = StationSnapshot{
			Control: int(st.control), Autostart: int(st.autostart), SetpointType: int(st.typ),
			IdleTimeout: int(st.idle), Locked: int(st.locked), Action: int(st.action),
			Current: int(st.current), PowerSetpoint: int(st.power), MaxPower: int(st.maxPower),
			Applied: applied(st, r), Power: power(st, r), State: cpState(st, r), SoC: soc(st, r),
			Lapses: st.lapses, Car: r,
		}
	}
	return snap
}

// update runs the idle timeout, integrates a discharge and tells each car
// what it is offered; the caller holds s.mu.
func (s *Simulator) update(now time.Time) {
	for u, st := range s.stations {
		timeout := time.Duration(st.idle) * time.Second
		if st.control == controlRemote && timeout > 0 && now.Sub(st.lastTraffic) >= timeout {
			// Idle: back to the app, nothing flows until told again.
			st.control, st.autostart, st.action = controlUser, 1, 0
			st.lapses++
			s.log.Info("no Modbus traffic within the idle timeout: back to user control", "unit", u, "timeout", timeout)
		}
		r := st.car.Read()
		if w := discharge(st, r); w < 0 && now.After(st.lastStep) {
			st.dischargedWh += -w * now.Sub(st.lastStep).Hours()
		}
		st.lastStep = now
		a := float64(applied(st, r))
		st.car.Offer(a, 1, a >= minCurrent)
	}
}

// running tells whether the charger moves energy on its setpoint: under
// remote control, started, with a car and no fault.
func running(st *station, r simcar.Reading) bool {
	return r.Plugged && !st.fault && st.locked == 0 && st.control == controlRemote && st.action == actionStart
}

// applied is the current offered to the car, A: the current setpoint,
// or the power setpoint turned into amperes at 230 V; nothing below 6 A,
// and nothing under user control (the simulated app plans nothing).
func applied(st *station, r simcar.Reading) int {
	if !running(st, r) {
		return 0
	}
	a := int(st.current)
	if st.typ == typePower {
		a = int(st.power) / 230
	}
	if a < minCurrent {
		return 0
	}
	return min(a, int(st.maxPower)/230)
}

// discharge is the power the car gives back, W (negative), while a
// negative setpoint runs, down to 10 % SoC.
func discharge(st *station, r simcar.Reading) float64 {
	if !running(st, r) || soc(st, r) <= 10 {
		return 0
	}
	w := float64(st.current) * 230
	if st.typ == typePower {
		w = float64(st.power)
	}
	return math.Max(math.Min(w, 0), -float64(st.maxPower))
}

func soc(st *station, r simcar.Reading) float64 {
	if !r.Plugged {
		return 0
	}
	return math.Max(0, r.SoC-st.dischargedWh/10/st.kwh)
}

// power is register 526: what the car draws, or minus what it gives.
func power(st *station, r simcar.Reading) float64 {
	if r.Charging {
		return r.Power
	}
	return discharge(st, r)
}

// cpState derives register 537 from car and registers.
func cpState(st *station, r simcar.Reading) int {
	switch {
	case st.fault:
		return 7
	case !r.Plugged && st.locked == 1:
		return 6
	case !r.Plugged:
		return 0
	case power(st, r) < 0:
		return 11
	case r.Charging:
		return 1
	case applied(st, r) > 0:
		return 2 // offered, the car has not started (or is full)
	}
	return 4
}

// runSimulator serves `evbridge sim wallbox_quasar`: a Quasar 1 with a
// car plugged in, under user control until a master takes it.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
