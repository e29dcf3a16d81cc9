package tesla

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
		Name:  "tesla_wc3",
		Title: "Tesla Wall Connector Gen 3 (read-only), with a car plugged in",
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			return httpsim.Serve(ctx, addr, ready, NewSimulator(SimConfig{Plugged: true}))
		},
	})
}

// SimConfig sets up a simulated Wall Connector. Zero fields take defaults.
type SimConfig struct {
	// Serial (default "PGT22123456789"), Part (default "1529455-02-D"),
	// Firmware (default "24.36.3+g1a2b3c4d5e6f7").
	Serial, Part, Firmware string
	// SinglePhase wires one phase; the default is three (Europe).
	SinglePhase bool
	// Breaker is the current the installer set, offered to the car, A
	// (default 16).
	Breaker int
	// NaNInLifetime writes nan for counters as some firmware does.
	NaNInLifetime bool
	// Car is the simulated car; its clock (Car.Now) drives the device too.
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
}

// Fault is a misbehaviour the simulator can be told to show; the faults
// are httpsim's, with the Wall Connector's own broken bodies (replies),
// plus one of its own.
type Fault = httpsim.Fault

// Faults the simulator can inject into every HTTP reply.
const (
	FaultNone         = httpsim.FaultNone
	FaultHang         = httpsim.FaultHang    // accept the request, never answer until Close
	FaultGarbage      = httpsim.FaultGarbage // 200 with truncated JSON
	FaultHTML         = httpsim.FaultHTML    // 200 with an HTML page
	FaultEmpty        = httpsim.FaultEmpty   // 200 with an empty body
	FaultSlow         = httpsim.FaultSlow    // answer normally after SetSlowDelay
	FaultMissingBrace = FaultSlow + 1        // the reply without its closing brace, as firmware slips
)

// Simulator is a simulated Wall Connector Gen 3 with its local API. It
// is safe for concurrent use.
type Simulator struct {
	cfg SimConfig
	car *simcar.Car
	now func() time.Time

	// srv is the network side: lifetime, faults, request counts.
	srv *httpsim.Server

	mu  sync.Mutex
	dev twc
}

// NewSimulator returns a stopped simulator; Start makes it reachable.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Serial == "" {
		cfg.Serial = "PGT22123456789"
	}
	if cfg.Part == "" {
		cfg.Part = "1529455-02-D"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "24.36.3+g1a2b3c4d5e6f7"
	}
	if cfg.Breaker <= 0 {
		cfg.Breaker = 16
	}
	if cfg.Car.Now == nil {
		cfg.Car.Now = time.Now
	}
	if cfg.Car.Voltage <= 0 {
		cfg.Car.Voltage = 230
	}
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: cfg.Car.Now}
	s.srv = httpsim.New(httpsim.Options{Name: "tesla sim", Tick: time.Second, OnTick: s.step}, s.handler())
	// The device has been up for a while (the client's example: 35779 s).
	s.dev = twc{offered: cfg.Breaker, booted: s.now().Add(-35779 * time.Second), plugged: cfg.Plugged}
	s.car.Plug(cfg.Plugged)
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Simulator) Start(ctx context.Context, addr string) error { return s.srv.Start(ctx, addr) }

// Addr is the bound host:port of the last Start.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// Close takes the device off the network; the car stays as it was.
func (s *Simulator) Close() error { return s.srv.Close() }

// Plug plugs the car in or out; the device notices at its next tick.
func (s *Simulator) Plug(plugged bool) {
	s.car.Plug(plugged)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.plugged = plugged
}

// SetOffered is the car or the Tesla app changing the current (0 stops
// charging): the only control there is, and not through this API.
func (s *Simulator) SetOffered(amps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.offered = min(amps, s.cfg.Breaker)
}

// SetError puts the device in its error state (evse_state 7) with alerts,
// or clears it with none.
func (s *Simulator) SetError(alerts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.alerts = alerts
}

// Reboot restarts the firmware: the uptime starts again.
func (s *Simulator) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.booted = s.now()
}

// Snapshot returns what the device shows now.
func (s *Simulator) Snapshot() SimSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev.snapshot(s.now())
}

// Requests returns how many requests each path got, faults included.
func (s *Simulator) Requests() map[string]int { return s.srv.Requests() }

// SetFault makes every following reply misbehave as f says.
func (s *Simulator) SetFault(f Fault) { s.srv.SetFault(f) }

// SetSlowDelay sets how long FaultSlow waits before answering (default 3 s).
func (s *Simulator) SetSlowDelay(d time.Duration) { s.srv.SetSlowDelay(d) }

func (s *Simulator) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.tick(s.cfg, s.car)
}
