package smaev

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "sma_evcharger",
		Title: "SMA EV Charger 22 (REST API), with a car plugged in; login " + SimUsername + " / " + SimPassword,
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			return httpsim.Serve(ctx, addr, ready, NewSimulator(SimConfig{Plugged: true}))
		},
		DriverOptions: func(opts any) {
			if o, ok := opts.(*Options); ok {
				o.Username, o.Password = SimUsername, SimPassword
			}
		},
	})
}

// The simulator's default login, for `evbridge sim sma_evcharger`.
const (
	SimUsername = "evbridge"
	SimPassword = "evbridge-sim"
)

// SimConfig sets up a simulated SMA EV Charger. Zero fields take the
// defaults.
type SimConfig struct {
	// Username and Password are the one user the charger knows (defaults
	// SimUsername, SimPassword). "admin" is refused whatever this says.
	Username, Password string
	// Model is Parameter.Nameplate.ModelStr (default "EVC22-3AC-10"); a
	// model containing "1AC" (EVC7.4-1AC-10) charges on one phase.
	Model string
	// Firmware is Parameter.Nameplate.PkgRev (default "1.2.23.R").
	Firmware string
	// Serial is Parameter.Nameplate.SerNum (default "3012345678").
	Serial string
	// MaxCurrent is the top of the AcALim range the device accepts, A
	// (default 32); the bottom is 6 A.
	MaxCurrent float64
	// TokenLifetime is expires_in of an access token (default 1 h);
	// RefreshLifetime how long its refresh token stays valid (default
	// 24 h). Both run on the car's clock.
	TokenLifetime, RefreshLifetime time.Duration
	// Eco starts with the rotary switch in the eco position.
	Eco bool
	// AppLock starts with the app lock on.
	AppLock bool
	// Car is the simulated car; its clock (Car.Now) drives the device too.
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
}

func (c SimConfig) phases() int {
	if strings.Contains(c.Model, "1AC") {
		return 1
	}
	return 3
}

// Fault is a misbehaviour the simulator can be told to show; the faults
// are httpsim's, with the charger's own broken bodies (replies).
type Fault = httpsim.Fault

// Faults the simulator can inject into every HTTP reply, the token
// endpoint's included.
const (
	FaultNone    = httpsim.FaultNone
	FaultHang    = httpsim.FaultHang    // accept the request, never answer until Close
	FaultGarbage = httpsim.FaultGarbage // 200 with truncated JSON
	FaultHTML    = httpsim.FaultHTML    // 200 with an HTML page
	FaultEmpty   = httpsim.FaultEmpty   // 200 with an empty body
	FaultSlow    = httpsim.FaultSlow    // answer normally after SetSlowDelay
)

// Simulator is a simulated SMA EV Charger with its REST API. It is safe
// for concurrent use.
type Simulator struct {
	cfg SimConfig
	car *simcar.Car
	now func() time.Time

	// srv is the network side: lifetime, faults, request counts.
	srv *httpsim.Server

	mu  sync.Mutex
	dev device
}

// NewSimulator returns a stopped simulator; Start makes it reachable.
func NewSimulator(cfg SimConfig) *Simulator {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Username, SimUsername)
	def(&cfg.Password, SimPassword)
	def(&cfg.Model, "EVC22-3AC-10")
	def(&cfg.Firmware, "1.2.23.R")
	def(&cfg.Serial, "3012345678")
	if cfg.MaxCurrent < minCurrent {
		cfg.MaxCurrent = topCurrent
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.RefreshLifetime <= 0 {
		cfg.RefreshLifetime = 24 * time.Hour
	}
	if cfg.Car.Now == nil {
		cfg.Car.Now = time.Now
	}
	cfg.Car.Phases = cfg.phases()
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: cfg.Car.Now}
	s.srv = httpsim.New(httpsim.Options{Name: "sma_evcharger sim", Tick: time.Second, OnTick: s.step}, s.handler())
	s.dev = newDevice(cfg)
	s.Plug(cfg.Plugged)
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Simulator) Start(ctx context.Context, addr string) error { return s.srv.Start(ctx, addr) }

// Addr is the bound host:port of the last Start.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// Close takes the charger off the network; its state and tokens stay.
func (s *Simulator) Close() error { return s.srv.Close() }

// Plug plugs the car in or out. Plugging in sets the charging mode to the
// rotary switch's (fast, or optimised in the eco position), as the
// device does when it detects a car.
func (s *Simulator) Plug(plugged bool) {
	s.car.Plug(plugged)
	s.mu.Lock()
	defer s.mu.Unlock()
	if plugged && !s.dev.plugged {
		s.dev.mode = s.dev.switchMode()
	}
	s.dev.plugged = plugged
	s.dev.offer(s.cfg, s.car)
}

// SetEco turns the rotary switch to the eco (true) or the fast position;
// the charging mode follows the switch.
func (s *Simulator) SetEco(eco bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev.eco != eco {
		s.dev.eco = eco
		s.dev.mode = s.dev.switchMode()
	}
	s.dev.offer(s.cfg, s.car)
}

// SetAppLock turns the app lock on or off, as the SMA app would.
func (s *Simulator) SetAppLock(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.appLock = on
	s.dev.offer(s.cfg, s.car)
}

// ExpireTokens makes every access token invalid, as a reboot does; the
// refresh tokens stay valid.
func (s *Simulator) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.dev.access)
}

// RevokeAll makes every access and refresh token invalid.
func (s *Simulator) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.dev.access)
	clear(s.dev.refresh)
}

// SetPassword changes the user's password; issued tokens stay valid.
func (s *Simulator) SetPassword(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Password = p
}

// Snapshot returns what the charger shows now.
func (s *Simulator) Snapshot() SimSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev.snapshot()
}

// Requests returns how many requests each "METHOD /path" got, faults
// included.
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
