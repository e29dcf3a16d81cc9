package ocpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// The OCPP simulator is a charge point, the client side: unlike the other
// simulators it serves nothing but dials a central system. `evbridge sim
// ocpp --listen URL` therefore takes the central system's URL
// (ws://host:8887[/prefix], or host:port), and "ready" reports the charge
// point identity it connected as, which is what a charger entry's address
// must be. Options ride in the URL fragment:
// #id=NAME&proto=ocpp2.0.1&quirks=slow-meter,no-phase-switch&password=PW.
var simSeq atomic.Int64

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "ocpp",
		Title: "OCPP charge point with a car plugged in; --listen is the central system URL to dial",
		Run:   runRegisteredSim,
	})
}

func runRegisteredSim(ctx context.Context, addr string, ready func(string)) error {
	if !strings.Contains(addr, "://") {
		addr = "ws://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("ocpp sim: central system url %q: %w", addr, err)
	}
	opts, _ := url.ParseQuery(u.Fragment)
	u.Fragment = ""
	cfg := SimConfig{ID: opts.Get("id"), Protocol: opts.Get("proto"), Password: opts.Get("password"), Plugged: true}
	if cfg.ID == "" {
		cfg.ID = fmt.Sprintf("evbsim%d", simSeq.Add(1))
	}
	for _, name := range strings.Split(opts.Get("quirks"), ",") {
		q, ok := QuirkProfiles[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("ocpp sim: unknown quirk profile %q", name)
		}
		cfg.Quirks = cfg.Quirks.merge(q)
	}
	var once sync.Once
	cfg.OnConnect = func() {
		if ready != nil {
			once.Do(func() { ready(cfg.ID) })
		}
	}
	return NewChargePointSim(cfg).Run(ctx, u.String())
}

// Quirks are behaviours of real charge points that differ from the plain
// reading of the specification.
type Quirks struct {
	// MinMeterInterval refuses a MeterValueSampleInterval below it.
	MinMeterInterval time.Duration
	// ConnectorProfilesOnly refuses charging profiles for connector 0.
	ConnectorProfilesOnly bool
	// NoPhaseSwitch reports ConnectorSwitch3to1PhaseSupported=false and
	// ignores numberPhases.
	NoPhaseSwitch bool
	// NoOfferedMeasurands refuses MeterValuesSampledData naming
	// Current.Offered or Power.Offered (Wallbox firmware 5).
	NoOfferedMeasurands bool
	// NoTxProfile refuses TxProfile (only default profiles).
	NoTxProfile bool
}

func (q Quirks) merge(o Quirks) Quirks {
	q.MinMeterInterval = max(q.MinMeterInterval, o.MinMeterInterval)
	q.ConnectorProfilesOnly = q.ConnectorProfilesOnly || o.ConnectorProfilesOnly
	q.NoPhaseSwitch = q.NoPhaseSwitch || o.NoPhaseSwitch
	q.NoOfferedMeasurands = q.NoOfferedMeasurands || o.NoOfferedMeasurands
	q.NoTxProfile = q.NoTxProfile || o.NoTxProfile
	return q
}

// QuirkProfiles are the named quirk sets of `evbridge sim ocpp`.
var QuirkProfiles = map[string]Quirks{
	"":                   {},
	"slow-meter":         {MinMeterInterval: 30 * time.Second},
	"connector-profiles": {ConnectorProfilesOnly: true},
	"no-phase-switch":    {NoPhaseSwitch: true},
	"no-tx-profile":      {NoTxProfile: true},
	"wallbox":            {NoOfferedMeasurands: true, NoPhaseSwitch: true},
}

// SimConfig sets up a simulated charge point. Zero fields take defaults.
type SimConfig struct {
	// ID is the charge point identity (default "evbsim").
	ID string
	// Password, when set, is sent with HTTP Basic auth (user = ID).
	Password string
	// Protocol is ocpp1.6 (default) or ocpp2.0.1.
	Protocol string
	// Vendor, Model, Serial and Firmware are told at boot.
	Vendor, Model, Serial, Firmware string
	// MaxCurrent is offered without a charging profile (default 16 A).
	MaxCurrent float64
	// Car is the simulated car.
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
	// NoAutoStart waits for RemoteStartTransaction instead of starting a
	// transaction when the car is plugged in (free charging does).
	NoAutoStart bool
	// MeterInterval is the initial MeterValueSampleInterval (default 60 s).
	MeterInterval time.Duration
	// MeterStartWh is the energy register at start (default 1 MWh).
	MeterStartWh float64
	// Quirks of the simulated model.
	Quirks Quirks
	// Tick is how often the device logic runs (default 1 s).
	Tick time.Duration
	// ReconnectDelay is the wait before reconnecting (default 2 s).
	ReconnectDelay time.Duration
	// TLS configures wss:// connections.
	TLS *tls.Config
	// OnConnect is called after each successful connection.
	OnConnect func()
	// Log receives the simulator's log (default discard).
	Log *slog.Logger
}

// SimSnapshot is the simulated charge point's present state.
type SimSnapshot struct {
	ID         string
	Connected  bool
	Registered bool
	Boots      int
	Connects   int
	Status     string
	Available  bool
	Plugged    bool
	TxActive   bool
	TxID       string
	// Limit is the current offered to the car by the charging profiles, A.
	Limit  float64
	Phases int
	// ProfilesAccepted counts SetChargingProfile requests accepted.
	ProfilesAccepted int
	ProfilesRejected int
	MeterInterval    time.Duration
	Measurands       string
	MeterMessages    int
	Reading          simcar.Reading
}

// simProfile is an installed charging profile, reduced to what the
// simulator follows: the first period.
type simProfile struct {
	purpose string
	conn    int
	tx      string
	amps    float64 // per phase
	phases  int     // 0: unspecified
}

// ChargePointSim is a simulated OCPP charge point with one connector. It
// is safe for concurrent use.
type ChargePointSim struct {
	cfg  SimConfig
	car  *simcar.Car
	log  *slog.Logger
	jobs chan func(proto simProto)
	drop chan struct{}

	mu            sync.Mutex
	connected     bool
	registered    bool
	boots         int
	connects      int
	plugged       bool
	available     bool
	goUnavailable bool // ChangeAvailability scheduled after the transaction
	status        string
	tx            string
	autoStarted   bool                  // a transaction was started for this plug-in
	profiles      map[string]simProfile // purpose/connector
	accepted      int
	rejected      int
	meterInterval time.Duration
	measurands    string
	heartbeat     time.Duration
	meterMsgs     int
}

// NewChargePointSim returns a simulated charge point; Run connects it.
func NewChargePointSim(cfg SimConfig) *ChargePointSim {
	if cfg.ID == "" {
		cfg.ID = "evbsim"
	}
	if cfg.Protocol == "" {
		cfg.Protocol = ProtoOCPP16
	}
	setDefaultStr(&cfg.Vendor, "evbridge")
	setDefaultStr(&cfg.Model, "SimPoint")
	setDefaultStr(&cfg.Serial, "SIM-"+cfg.ID)
	setDefaultStr(&cfg.Firmware, "1.0.0")
	if cfg.MaxCurrent <= 0 {
		cfg.MaxCurrent = 16
	}
	if cfg.MeterInterval <= 0 {
		cfg.MeterInterval = time.Minute
	}
	if cfg.MeterStartWh <= 0 {
		cfg.MeterStartWh = 1e6
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &ChargePointSim{cfg: cfg, car: simcar.New(cfg.Car), log: cfg.Log.With("sim", cfg.ID),
		jobs: make(chan func(simProto), 32), drop: make(chan struct{}, 1), available: true,
		profiles: map[string]simProfile{}, meterInterval: cfg.MeterInterval,
		measurands: "Energy.Active.Import.Register,Power.Active.Import", heartbeat: 5 * time.Minute}
	s.Plug(cfg.Plugged)
	return s
}

func setDefaultStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// Plug connects or disconnects the car.
func (s *ChargePointSim) Plug(plugged bool) {
	s.mu.Lock()
	s.plugged = plugged
	s.mu.Unlock()
	s.car.Plug(plugged)
}

// Drop breaks the connection as a network fault would; Run reconnects.
func (s *ChargePointSim) Drop() {
	select {
	case s.drop <- struct{}{}:
	default:
	}
}

// Snapshot returns the simulator's state.
func (s *ChargePointSim) Snapshot() SimSnapshot {
	r := s.car.Read()
	s.mu.Lock()
	defer s.mu.Unlock()
	limit, phases := s.offerLocked()
	return SimSnapshot{ID: s.cfg.ID, Connected: s.connected, Registered: s.registered, Boots: s.boots,
		Connects: s.connects, Status: s.status, Available: s.available, Plugged: s.plugged,
		TxActive: s.tx != "", TxID: s.tx, Limit: limit, Phases: phases, ProfilesAccepted: s.accepted,
		ProfilesRejected: s.rejected, MeterInterval: s.meterInterval, Measurands: s.measurands,
		MeterMessages: s.meterMsgs, Reading: r}
}

// Run connects to the central system at centralURL (without the identity)
// and keeps the charge point connected until ctx ends, reconnecting after
// a drop.
func (s *ChargePointSim) Run(ctx context.Context, centralURL string) error {
	centralURL = strings.TrimRight(centralURL, "/")
	if u, err := url.Parse(centralURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("ocpp sim: central system url %q: want ws://host:port[/path] or wss://", centralURL)
	}
	for {
		var err error
		switch s.cfg.Protocol {
		case ProtoOCPP16:
			err = s.run16(ctx, centralURL)
		case ProtoOCPP201:
			err = s.run201(ctx, centralURL)
		default:
			return fmt.Errorf("ocpp sim: unknown protocol %q", s.cfg.Protocol)
		}
		s.mu.Lock()
		s.connected = false // registered survives: a reconnect is no reboot
		s.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		s.log.Info("ocpp sim disconnected; reconnecting", "err", err, "after", s.cfg.ReconnectDelay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.ReconnectDelay):
		}
	}
}

// simProto is what the device logic needs of a protocol session.
type simProto interface {
	boot() error
	status(status string) error
	meter(trigger bool) error
	heartbeat() error
	startTx(tag string) error
	stopTx(reason string) error
}

// enqueue hands a job to the session loop without blocking a handler.
func (s *ChargePointSim) enqueue(job func(simProto)) {
	select {
	case s.jobs <- job:
	default:
		s.log.Warn("ocpp sim job queue full; dropped a job")
	}
}

var errDropped = errors.New("connection dropped")
