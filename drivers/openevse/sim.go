package openevse

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "openevse",
		Title: "OpenEVSE (WiFi gateway v4+), with a car plugged in",
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			return httpsim.Serve(ctx, addr, ready, NewSimulator(SimConfig{Plugged: true}))
		},
	})
}

// MDNSService is what an OpenEVSE advertises over mDNS: _openevse._tcp on
// its HTTP port with TXT type=<buildenv>, version=<WiFi firmware> and
// id=<long chip id>, next to a plain _http._tcp on the same port; the host
// name is openevse-<last 4 of the id> (src/net_manager.cpp,
// src/app_config.cpp; Home Assistant discovers _openevse._tcp.local.).
const MDNSService = "_openevse._tcp"

// SimConfig sets up a simulated OpenEVSE. Zero fields take the defaults.
type SimConfig struct {
	// Hostname (default "openevse-a7d4"), ID (the long chip id in the mDNS
	// TXT, default "24a1c3a7d4"), MAC (default "24:0A:C4:12:A7:D4").
	Hostname, ID, MAC string
	// Version is the WiFi firmware (default "5.1.4"), Firmware the EVSE
	// controller's (default "8.2.3"), BuildEnv the board (default
	// "openevse_wifi_v1").
	Version, Firmware, BuildEnv string
	// Current limits, A (defaults 6, 32, 32).
	MinCurrentHard, MaxCurrentHard, MaxCurrentSoft int
	// ThreePhase sets is_threephase: the car draws on three phases.
	ThreePhase bool
	// Username and Password, when set, demand HTTP basic auth.
	Username, Password string
	// OverrideNoneEmpty makes GET /override answer 200 {} when no override
	// is active, as some firmware does, instead of api.yml's 404.
	OverrideNoneEmpty bool
	// Car is the simulated car; its clock (Car.Now) drives the device too.
	// Its voltage defaults to 240 V (the firmware's default voltage).
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
}

func (c SimConfig) phases() int {
	if c.ThreePhase {
		return 3
	}
	return 1
}

// Fault is a misbehaviour the simulator can be told to show; the faults
// are httpsim's, with OpenEVSE's own broken bodies (replies).
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

// Simulator is a simulated OpenEVSE with its WiFi gateway's HTTP API. It
// is safe for concurrent use.
type Simulator struct {
	cfg SimConfig
	car *simcar.Car
	now func() time.Time

	// srv is the network side: lifetime, faults, request counts.
	srv *httpsim.Server

	mu  sync.Mutex
	dev evse
}

// NewSimulator returns a stopped simulator; Start makes it reachable.
func NewSimulator(cfg SimConfig) *Simulator {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Hostname, "openevse-a7d4")
	def(&cfg.ID, "24a1c3a7d4")
	def(&cfg.MAC, "24:0A:C4:12:A7:D4")
	def(&cfg.Version, "5.1.4")
	def(&cfg.Firmware, "8.2.3")
	def(&cfg.BuildEnv, "openevse_wifi_v1")
	if cfg.MinCurrentHard <= 0 {
		cfg.MinCurrentHard = 6
	}
	if cfg.MaxCurrentHard <= 0 {
		cfg.MaxCurrentHard = 32
	}
	if cfg.MaxCurrentSoft <= 0 || cfg.MaxCurrentSoft > cfg.MaxCurrentHard {
		cfg.MaxCurrentSoft = cfg.MaxCurrentHard
	}
	if cfg.Car.Now == nil {
		cfg.Car.Now = time.Now
	}
	if cfg.Car.Voltage <= 0 {
		cfg.Car.Voltage = 240
	}
	cfg.Car.Phases = cfg.phases()
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: cfg.Car.Now}
	// The gateway reads the EVSE controller about once a second.
	s.srv = httpsim.New(httpsim.Options{Name: "openevse sim", Tick: time.Second, OnTick: s.step}, s.handler())
	s.dev.started = s.now()
	s.dev.plugged = cfg.Plugged
	s.car.Plug(cfg.Plugged)
	s.dev.resolve(cfg)
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Simulator) Start(ctx context.Context, addr string) error { return s.srv.Start(ctx, addr) }

// Addr is the bound host:port of the last Start.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// Close takes the charger off the network; claims and car stay as they are.
func (s *Simulator) Close() error { return s.srv.Close() }

// MDNSInfo is what this simulated charger would advertise: MDNSService on
// its bound port with the firmware's TXT records. The caller advertises.
func (s *Simulator) MDNSInfo() (service string, port int, txt []string) {
	if _, p, err := net.SplitHostPort(s.Addr()); err == nil {
		port, _ = strconv.Atoi(p)
	}
	return MDNSService, port, []string{"type=" + s.cfg.BuildEnv, "version=" + s.cfg.Version, "id=" + s.cfg.ID}
}

// Advertise announces the running simulator over mDNS as an OpenEVSE
// does: MDNSService with the firmware's TXT records and the host name
// openevse-<last 4 of the id>; see httpsim.Server.Announce.
func (s *Simulator) Advertise(ctx context.Context, ifaces []net.Interface) (stop func(), err error) {
	_, _, txt := s.MDNSInfo()
	name := s.cfg.Hostname
	stop, err = s.srv.Announce(ctx, name, MDNSService, name, txt, ifaces)
	if err != nil {
		return nil, fmt.Errorf("openevse sim: advertise: %w", err)
	}
	return stop, nil
}

// Plug plugs the car in or out. Unplugging ends the session, which
// releases every claim made with auto_release (a manual override by
// default).
func (s *Simulator) Plug(plugged bool) {
	s.car.Plug(plugged)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev.plugged && !plugged {
		s.dev.unplugged()
		s.dev.resolve(s.cfg)
		s.dev.offer(s.cfg, s.car)
	}
	s.dev.plugged = plugged
}

// SetOverride sets a manual override as a user at the charger would (its
// UI or app): state "active", "disabled" or "" (leave it), and a charge
// current (0: leave it). Like the firmware it auto-releases when the car
// leaves.
func (s *Simulator) SetOverride(state string, chargeCurrent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.claim(SimClaim{Client: clientManual, Priority: priorityManual, State: state,
		ChargeCurrent: chargeCurrent, AutoRelease: true})
	s.dev.resolve(s.cfg)
	s.dev.offer(s.cfg, s.car)
}

// ToggleOverride is the charger's button: an override to the opposite of
// the present state, or none if one is active (src/manual.cpp toggle).
func (s *Simulator) ToggleOverride() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.toggleOverride(s.cfg)
	s.dev.offer(s.cfg, s.car)
}

// SetEVSEError puts the EVSE controller in a fault state (5..11, e.g. 6
// GFCI fault), or clears it with 0; it shows at the next tick.
func (s *Simulator) SetEVSEError(state int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.fault = state
}

// SetMaxCurrentSoft changes max_current_soft as the charger's settings
// page would; config_version moves on.
func (s *Simulator) SetMaxCurrentSoft(amps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.MaxCurrentSoft = min(max(amps, s.cfg.MinCurrentHard), s.cfg.MaxCurrentHard)
	s.dev.configVersion++
	s.dev.resolve(s.cfg)
	s.dev.offer(s.cfg, s.car)
}

// Reboot restarts the gateway in place: claims live in RAM and are gone,
// the version counters restart.
func (s *Simulator) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.claims = [maxClaims]*SimClaim{}
	s.dev.claimsVersion, s.dev.overrideVersion = 0, 0
	s.dev.started = s.now()
	s.dev.resolve(s.cfg)
	s.dev.offer(s.cfg, s.car)
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
