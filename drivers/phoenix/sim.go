package phoenix

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// SimConfig sets up a simulated controller; zero fields take the defaults.
type SimConfig struct {
	// Units are the unit ids answered, one controller each (default 255
	// only). More than one stands for controllers behind a gateway.
	Units []uint8
	// Wallbe runs wallbe's extended firmware: 528 in 0.1 A, its firmware
	// string at 149, its energy counter at 2980.
	Wallbe bool
	// MaxCurrent is the configured maximum, A (default 32); 528 refuses
	// more with illegal data value. DefaultCurrent (default 16 A) is what
	// 528 holds after power-up or a restart.
	MaxCurrent, DefaultCurrent int
	// Phases is how the wallbox is wired, 1 or 3 (default 3).
	Phases int
	// Milliamps makes the current registers count mA instead of A (the
	// open question of UM's current unit).
	Milliamps bool
	// EnergyWh is the meter reading at start (default 1 234 567 Wh).
	EnergyWh float64
	// Car configures the car of each controller.
	Car simcar.Config
	// Identity strings: Serial (304, 12 characters), Name (310, 10),
	// Firmware (105, 4), WallbeFirmware (149, 12).
	Serial, Name, Firmware, WallbeFirmware string
	// MaxMasters is how many masters may connect at once (default 2).
	MaxMasters int
	Logger     *slog.Logger
}

// Simulator is an EV Charge Control controller on a real Modbus TCP
// server.
type Simulator struct {
	// The harness serves Modbus TCP and gives Start, Addr, Close and
	// the fault injection (Busy, Drop, Delay, Hang, Counters).
	*harness
	cfg SimConfig
	log *slog.Logger

	mu    sync.Mutex
	units map[uint8]*unit
}

// unit is one controller behind the server.
type unit struct {
	car      *simcar.Car
	raw      uint16 // 528 as stored
	enabled  bool   // coil 400
	fault    bool
	plugAt   time.Time
	restarts int
}

// Counters count the requests the simulator answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// UnitSnapshot is one controller's state.
type UnitSnapshot struct {
	Setpoint float64 // 528, A
	Raw      int     // 528 as stored
	Enabled  bool    // coil 400
	Status   string  // register 100
	Restarts int
	Car      simcar.Reading
}

// Snapshot is the simulator's state and counters.
type Snapshot struct {
	Units map[uint8]UnitSnapshot
	Counters
	// Masters is the number of distinct client connections seen.
	Masters int
}

// NewSimulator returns a stopped simulator with every car unplugged.
func NewSimulator(cfg SimConfig) *Simulator {
	if len(cfg.Units) == 0 {
		cfg.Units = []uint8{defaultUnit}
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = maxCurrent
	}
	if cfg.DefaultCurrent <= 0 {
		cfg.DefaultCurrent = 16
	}
	if cfg.Phases != 1 {
		cfg.Phases = 3
	}
	if cfg.EnergyWh <= 0 {
		cfg.EnergyWh = 1234567
	}
	if cfg.MaxMasters <= 0 {
		cfg.MaxMasters = 2
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Serial, "1018701A0001")
	def(&cfg.Name, "EV-CC-ETH")
	def(&cfg.Firmware, "1.27")
	def(&cfg.WallbeFirmware, "WB-2.1.9")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "phoenix"), units: map[uint8]*unit{}}
	for _, id := range cfg.Units {
		u := &unit{car: simcar.New(cfg.Car)}
		s.powerUp(u)
		s.units[id] = u
	}
	s.harness = modbussim.New(modbussim.Config{Name: "phoenix", Handler: handler{s: s},
		MaxClients: uint(cfg.MaxMasters), Tick: s.tick,
		LogAttrs: []any{"units", fmt.Sprint(cfg.Units), "wallbe", cfg.Wallbe}, Logger: s.log})
	return s
}

// powerUp sets what the controller holds after power-up: the Modbus
// writes are volatile.
func (s *Simulator) powerUp(u *unit) {
	u.raw, u.enabled = uint16(s.cfg.DefaultCurrent*s.scale()), true
}

// scale is 528's units per ampere.
func (s *Simulator) scale() int {
	if s.cfg.Wallbe {
		return 10
	}
	return 1
}

// tick moves the model on (car offers).
func (s *Simulator) tick(_ time.Time) {
	s.mu.Lock()
	s.update()
	s.mu.Unlock()
}

// Plug plugs the car of the first unit in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugUnit(s.cfg.Units[0], plugged) }

// PlugUnit plugs the car of unit id in or out.
func (s *Simulator) PlugUnit(id uint8, plugged bool) {
	s.with(id, func(u *unit) {
		if plugged && !u.car.Read().Plugged {
			u.plugAt = time.Now()
		}
		u.car.Plug(plugged)
	})
}

// SetFault puts controller id in state F with a contactor fault, or back.
func (s *Simulator) SetFault(id uint8, fault bool) { s.with(id, func(u *unit) { u.fault = fault }) }

// Restart restarts controller id: what Modbus wrote is lost, the
// configured defaults apply again.
func (s *Simulator) Restart(id uint8) {
	s.with(id, func(u *unit) {
		s.powerUp(u)
		u.restarts++
	})
}

func (s *Simulator) with(id uint8, f func(*unit)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.units[id]; u != nil {
		f(u)
		s.update()
	}
}

// Snapshot returns every controller's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update()
	snap := Snapshot{Units: map[uint8]UnitSnapshot{}, Counters: s.Counters(), Masters: s.Masters()}
	for id, u := range s.units {
		r := u.car.Read()
		snap.Units[id] = UnitSnapshot{Setpoint: s.amps(u), Raw: int(u.raw), Enabled: u.enabled,
			Status: string(s.pilot(u, r)), Restarts: u.restarts, Car: r}
	}
	return snap
}

// amps is 528 in amperes.
func (s *Simulator) amps(u *unit) float64 { return float64(u.raw) / float64(s.scale()) }

// update tells each car what it is offered; the caller holds s.mu.
func (s *Simulator) update() {
	for _, u := range s.units {
		on := u.enabled && !u.fault
		a := 0.0
		if on {
			a = s.amps(u)
		}
		u.car.Offer(a, s.cfg.Phases, on)
	}
}

// pilot is register 100's letter.
func (s *Simulator) pilot(u *unit, r simcar.Reading) byte {
	switch {
	case u.fault:
		return 'F'
	case !r.Plugged:
		return 'A'
	case r.Charging:
		return 'C'
	}
	return 'B'
}

// runSimulator serves `evbridge sim phoenix`: a three-phase controller
// with Phoenix firmware and a car.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
