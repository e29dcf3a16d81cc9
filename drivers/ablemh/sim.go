package ablemh

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

// SimConfig sets up a gateway with controllers behind it; zero fields
// take the defaults.
type SimConfig struct {
	// IDs are the controllers' device ids (default [1]).
	IDs []uint8
	// NoMeter simulates controllers without the internal current meter
	// (flag bit 5 clear; Ict reads 0x03E8).
	NoMeter bool
	// UpstreamTimeout, if set, enables the controllers' upstream timeout
	// (flag bit 6): a controller no frame reached for this long falls to
	// F4 and offers no current until a write of 0x0014 (or 0xA1A1 to
	// 0x0005). ABL gives no duration.
	UpstreamTimeout time.Duration
	// MaxCurrent is the box's rating, A (default 32): it never offers
	// more, whatever Icmax says.
	MaxCurrent float64
	// Echo makes the gateway send every request back before the answer,
	// as some RS485 converters do.
	Echo   bool
	Car    simcar.Config
	Logger *slog.Logger
}

// Simulator is a transparent RS485 gateway with EVCC2/3 controllers.
type Simulator struct {
	// The harness gives Start, Addr, Close and the fault injection
	// (Busy, Drop, Delay, Hang, Counters, Masters); this package serves
	// the ASCII framing through its Listen hook.
	*harness
	cfg SimConfig
	log *slog.Logger

	mu    sync.Mutex
	boxes map[uint8]*box
	noise []byte // sent before the next answer (fault injection)
}

type box struct {
	id        uint8
	car       *simcar.Car
	icmax     uint16
	mode      uint8 // 0 normal, or a forced state: 0xE0, 0xE2, 0xF1...
	timeout   bool  // upstream timeout enabled
	timedOut  bool
	fallbacks int
	heard     time.Time
	serial    string
}

// Counters count the requests the controllers answered (or refused).
type Counters = modbussim.Counters

// harness is embedded under an unexported name so that its methods, not
// a field, join the simulator's API.
type harness = modbussim.Server

// BoxSnapshot is one controller's state.
type BoxSnapshot struct {
	Icmax     uint16  // 0x0014
	Applied   float64 // what the pilot offers, A
	State     uint8
	TimedOut  bool
	Fallbacks int
	Car       simcar.Reading
}

// Snapshot is every controller's state and the counters.
type Snapshot struct {
	Boxes map[uint8]BoxSnapshot
	Counters
	Masters int
}

// NewSimulator returns a stopped gateway; every car is unplugged and
// every box allows 16 A.
func NewSimulator(cfg SimConfig) *Simulator {
	if len(cfg.IDs) == 0 {
		cfg.IDs = []uint8{1}
	}
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = maxCurrent
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "abl_emh"), boxes: map[uint8]*box{}}
	now := time.Now()
	for _, id := range cfg.IDs {
		s.boxes[id] = &box{id: id, car: simcar.New(cfg.Car), icmax: units(16), timeout: cfg.UpstreamTimeout > 0,
			heard: now, serial: fmt.Sprintf("2W22SIM%07d", id)}
	}
	s.harness = modbussim.New(modbussim.Config{Name: "abl_emh", MaxClients: 4, Tick: s.tick,
		TickEvery: 20 * time.Millisecond, Listen: s.listen, LogAttrs: []any{"ids", cfg.IDs}, Logger: s.log})
	return s
}

func (s *Simulator) tick(now time.Time) {
	s.mu.Lock()
	s.update(now)
	s.mu.Unlock()
}

// Plug plugs the car of the first controller in or out.
func (s *Simulator) Plug(plugged bool) { s.PlugUnit(s.cfg.IDs[0], plugged) }

// PlugUnit plugs the car of controller id in or out.
func (s *Simulator) PlugUnit(id uint8, plugged bool) {
	s.with(id, func(b *box) { b.car.Plug(plugged) })
}

// SetState forces controller id into a state (0xE0, 0xE2, 0xF1..0xFB),
// or back to normal with 0.
func (s *Simulator) SetState(id, state uint8) { s.with(id, func(b *box) { b.mode = state }) }

// Noise makes the gateway send b before the next answer: garbage on the
// line, a truncated or corrupt frame.
func (s *Simulator) Noise(b []byte) {
	s.mu.Lock()
	s.noise = append([]byte(nil), b...)
	s.mu.Unlock()
}

func (s *Simulator) with(id uint8, f func(*box)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boxes[id]; b != nil {
		f(b)
		s.update(time.Now())
	}
}

// Snapshot returns every controller's state and the counters.
func (s *Simulator) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(time.Now())
	snap := Snapshot{Boxes: map[uint8]BoxSnapshot{}, Counters: s.Counters(), Masters: s.Masters()}
	for id, b := range s.boxes {
		r := b.car.Read()
		snap.Boxes[id] = BoxSnapshot{Icmax: b.icmax, Applied: b.applied(s.cfg.MaxCurrent), State: b.state(r, s.cfg.MaxCurrent),
			TimedOut: b.timedOut, Fallbacks: b.fallbacks, Car: r}
	}
	return snap
}

// update runs the upstream timeouts and tells each car its offer.
func (s *Simulator) update(now time.Time) {
	for id, b := range s.boxes {
		if b.timeout && s.cfg.UpstreamTimeout > 0 && !b.timedOut && now.Sub(b.heard) >= s.cfg.UpstreamTimeout {
			b.timedOut = true
			b.fallbacks++
			s.log.Info("upstream timeout, controller in F4", "id", id)
		}
		a := b.applied(s.cfg.MaxCurrent)
		b.car.Offer(a, 3, a >= minCurrent)
	}
}

// applied is the current the pilot offers, A.
func (b *box) applied(rating float64) float64 {
	if b.timedOut || b.mode != 0 || b.icmax == noCurrent {
		return 0
	}
	return min(ampsOf(b.icmax), rating)
}

// state is the state byte (ABL §3.4).
func (b *box) state(r simcar.Reading, rating float64) uint8 {
	switch {
	case b.mode != 0:
		return b.mode
	case b.timedOut:
		return 0xF4
	case !r.Plugged:
		return 0xA1
	case r.Charging:
		return 0xC2
	case b.applied(rating) >= minCurrent:
		return 0xB2
	}
	return 0xB1
}

// blocks are the readable blocks and their registers, keyed by their
// first register; a read must start at a block and not run past it.
func (s *Simulator) blocks(b *box) map[uint16][]uint16 {
	r := b.car.Read()
	code := b.state(r, s.cfg.MaxCurrent)
	flags := uint16(1<<4 | 1<<2) // RDC-MD, welding detection
	if !s.cfg.NoMeter {
		flags |= flagMeter
	}
	if b.timeout {
		flags |= flagUpstreamTimeout
	}
	var sys uint16
	if b.timedOut {
		sys |= sysUpstreamLost
	}
	ucp := uint16(0)
	if r.Plugged {
		ucp = bitUCP
	}
	ict := [3]uint16{noCurrent, noCurrent, noCurrent}
	if !s.cfg.NoMeter && code>>4 != 0xA {
		for i, a := range r.Currents {
			ict[i] = uint16(math.Round(a * 10))
		}
	}
	serial := []uint16{regSerial << 8}
	for i := 0; i < 14; i += 2 {
		serial = append(serial, uint16(b.serial[i])<<8|uint16(b.serial[i+1]))
	}
	return map[uint16][]uint16{
		regIdentity: {regIdentity<<8 | uint16(b.id), 0x12<<8 | flags},
		0x0003:      {0x03 << 8},
		regStatus:   {regStatus<<8 | uint16(code)},
		regSysFlags: {regSysFlags << 8, sys},
		regReport:   {regReport<<8 | uint16(code), ucp | b.icmax&dutyMask, ict[0], ict[1], ict[2]},
		regSerial:   serial,
	}
}

// runSimulator serves `evbridge sim abl_emh`: one controller, id 1, with
// a car, behind a transparent gateway.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	return modbussim.Serve(ctx, NewSimulator(SimConfig{Logger: slog.Default()}), addr, ready)
}
