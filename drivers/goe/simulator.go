package goe

import (
	"context"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "goe",
		Title: "go-e Charger (HTTP API v2), with a car plugged in",
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			return runSim(ctx, addr, ready, SimConfig{Plugged: true})
		},
	})
}

// SimConfig sets up a simulated go-e Charger. Zero fields take defaults.
type SimConfig struct {
	// Serial (sse, default "123456") and Firmware (fwv, default "059.4").
	Serial, Firmware string
	// Variant is 11 (11 kW, 16 A; the default) or 22 (22 kW, 32 A).
	Variant int
	// Car is the simulated car. Its clock (Car.Now) drives the device too.
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
	// API is the local HTTP API served: 2 (the default; /api/status,
	// /api/set) or 1 (/status, /mqtt?payload=, for driver goe_v1). The
	// device model is the same.
	API int
}

// Fault is a misbehaviour the simulator can be told to show; the faults
// are httpsim's, with go-e's own broken bodies (replies).
type Fault = httpsim.Fault

// Faults the simulator can inject into every HTTP reply.
const (
	FaultNone    = httpsim.FaultNone
	FaultHang    = httpsim.FaultHang    // accept the request, never answer until Close
	FaultGarbage = httpsim.FaultGarbage // 200 with truncated JSON
	FaultHTML    = httpsim.FaultHTML    // 200 with an HTML page
	FaultEmpty   = httpsim.FaultEmpty   // 200 with an empty body
	FaultSlow    = httpsim.FaultSlow    // answer normally after SetSlowDelay
)

// SimSnapshot is the simulator's present state: the settings as written and
// the logic results of the last tick, i.e. what /api/status shows now.
type SimSnapshot struct {
	// Settings. AmpFlash is amp as stored in flash: API v1's amx changes
	// Amp alone, and Reboot restores Amp from AmpFlash.
	Amp, Ama, Frc, Psm int
	AmpFlash           int
	Fna                string
	// Logic results, refreshed once per tick.
	Alw         bool
	Acu         int // A offered to the car now
	Car         int // carState 1..4
	ModelStatus int
	Err         int
	Pnp         int // phases switched in
	Nrg         [16]float64
	Power       float64 // nrg[11], W
	Currents    [3]float64
	Voltages    [3]float64
	Wh, Eto     float64
	Rssi        int
	Tma         []float64
	// Identity.
	Serial, Firmware, Typ string
	Variant               int
	// Plugged is the cable as the simulator holds it (not yet ticked).
	Plugged bool
	// PhaseSwitching is true while a phase switch pauses charging.
	PhaseSwitching bool
	// Tick counts logic runs; equal ticks mean equal logic results.
	Tick uint64
}

// Simulator is a simulated go-e Charger with its HTTP API v2. It is safe
// for concurrent use.
type Simulator struct {
	cfg SimConfig
	car *simcar.Car
	now func() time.Time

	// srv is the network side: lifetime, faults, request counts (by path).
	srv *httpsim.Server

	mu    sync.Mutex
	dev   device
	onSet func(key, value string)
}

// NewSimulator returns a stopped simulator; Start makes it reachable.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Serial == "" {
		cfg.Serial = "123456"
	}
	if cfg.API != 1 {
		cfg.API = 2
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "059.4"
		if cfg.API == 1 {
			cfg.Firmware = "040"
		}
	}
	if cfg.Variant != 22 {
		cfg.Variant = 11
	}
	now := cfg.Car.Now
	if now == nil {
		now = time.Now
	}
	cfg.Car.Now = now
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: now}
	// The device logic runs once per second (introduction-en.md).
	s.srv = httpsim.New(httpsim.Options{Name: "goe sim", Tick: time.Second, OnTick: s.step}, s.handler())
	s.dev = newDevice(cfg)
	s.car.Plug(cfg.Plugged)
	s.dev.plugged = cfg.Plugged
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Simulator) Start(ctx context.Context, addr string) error { return s.srv.Start(ctx, addr) }

// Addr is the bound host:port of the last Start.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// Close takes the device off the network: the listener and every open
// connection close, hung requests are dropped. The car stays as it was.
func (s *Simulator) Close() error { return s.srv.Close() }

// Plug plugs the car in or out; the box notices at its next tick.
func (s *Simulator) Plug(plugged bool) {
	s.car.Plug(plugged)
	s.mu.Lock()
	s.dev.plugged = plugged
	s.mu.Unlock()
}

// Snapshot returns what the device shows now.
func (s *Simulator) Snapshot() SimSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev.snapshot(s.cfg, s.now())
}

// SetFault makes every following reply misbehave as f says.
func (s *Simulator) SetFault(f Fault) { s.srv.SetFault(f) }

// SetSlowDelay sets how long FaultSlow waits before answering (default 3 s).
func (s *Simulator) SetSlowDelay(d time.Duration) { s.srv.SetSlowDelay(d) }

// OnSet registers fn, called for every key of every /api/set request
// before the reply is sent; nil removes it.
func (s *Simulator) OnSet(fn func(key, value string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSet = fn
}

// Requests returns how many HTTP requests each path got, faults included.
func (s *Simulator) Requests() map[string]int { return s.srv.Requests() }

// Reboot restarts the box's firmware in place: settings kept in flash
// survive, amp returns to its flash value (what API v1's amx changed is
// lost), the uptime restarts. The network side is untouched.
func (s *Simulator) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.amp = s.dev.flashAmp
	s.dev.booted = s.now()
}

// step runs the device logic once: it offers the car what the settings
// allow and publishes the meter readings.
func (s *Simulator) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.tick(s.now(), s.car)
}
