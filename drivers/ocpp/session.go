package ocpp

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Sentinel errors of the driver.
var (
	// ErrNotConnected: the charge point has no connection to the central
	// system (or no central system runs in this process).
	ErrNotConnected = errors.New("charge point not connected")
	// ErrNoAnswer: the charge point did not answer a call in time.
	ErrNoAnswer = errors.New("charge point did not answer")
)

// link sends commands to one connected charge point, in its dialect.
type link interface {
	proto() string
	// setLimit offers amps (0 pauses) on a connector: TxDefaultProfile,
	// and a transaction profile when txID is set. phases is 0 (leave it
	// to the charge point), 1 or 3.
	setLimit(ctx context.Context, conn int, amps float64, phases int, txID string) error
	remoteStart(ctx context.Context, conn int, idTag string) error
	trigger(ctx context.Context, what trigger, conn int) error
	reset(ctx context.Context) error
}

type trigger int

const (
	triggerBoot trigger = iota
	triggerStatus
	triggerMeter
)

// Registry holds the sessions of charge points by identity, and the
// identities drivers expect. It is the meeting point of drivers and the
// central system: a driver (built by the core, without I/O) looks its
// session up by chargeBoxId; the central system fills sessions. The
// process uses one, DefaultRegistry; tests build their own.
type Registry struct {
	mu       sync.RWMutex
	sessions map[string]*Session
	expected map[string]*expectation
	onExpect func(id string)
	server   bool // a central system serves this registry
}

type expectation struct {
	password string
	drivers  int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sessions: map[string]*Session{}, expected: map[string]*expectation{}}
}

// DefaultRegistry is the registry of the process's central system.
var DefaultRegistry = NewRegistry()

func (r *Registry) session(id string) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sessions[id]
}

func (r *Registry) sessionOrNew(id string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sessions[id]
	if s == nil {
		s = newSession(id)
		r.sessions[id] = s
	}
	return s
}

// forget drops s if it is still id's session.
func (r *Registry) forget(id string, s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[id] == s {
		delete(r.sessions, id)
	}
}

// expect records that a driver drives id; release undoes it.
func (r *Registry) expect(id, password string) (release func()) {
	r.mu.Lock()
	e := r.expected[id]
	if e == nil {
		e = &expectation{}
		r.expected[id] = e
	}
	e.drivers++
	if e.password == "" {
		e.password = password
	}
	hook := r.onExpect
	r.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if e.drivers--; e.drivers == 0 && r.expected[id] == e {
				delete(r.expected, id)
			}
		})
	}
}

func (r *Registry) expectation(id string) (password string, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.expected[id]
	if !ok {
		return "", false
	}
	return e.password, true
}

func (r *Registry) attach(onExpect func(string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onExpect, r.server = onExpect, true
}

func (r *Registry) detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onExpect, r.server = nil, false
}

func (r *Registry) served() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.server
}

// Session is what the central system knows of one charge point. It
// outlives connections: a charge point that reconnects finds its identity,
// connectors and transactions where it left them.
type Session struct {
	id string

	mu           sync.Mutex
	gen          uint64 // connection generation
	link         link   // nil while disconnected
	remote       string
	connectedAt  time.Time
	lastSeen     time.Time
	registration string // "", "Accepted", "Pending"
	bootSeen     chan struct{}
	bootWritten  chan struct{}
	identity     charger.Identity
	caps         caps
	station      connector // connector 0: the station as a whole
	conns        map[int]*connector
	lastTrigger  map[int]time.Time
}

// caps is what GetConfiguration (or the device model) told.
type caps struct {
	known          bool
	connectors     int
	phaseSwitch    bool
	powerOnly      bool // schedules must be in W
	noTxProfile    bool // refused a transaction profile once
	meterInterval  time.Duration
	measurands     string
	supportedProfs string
}

type connector struct {
	status   string // OCPP 1.6 ChargePointStatus (2.0.1 is mapped to it)
	statusAt time.Time
	// conn201 and charging201 are the OCPP 2.0.1 connector status and
	// charging state that status is derived from.
	conn201     string
	charging201 string
	errorCode   string
	errorInfo   string
	meter       meterState
	tx          *transaction
	lastWh      *float64 // energy of the last finished transaction
	limit       *float64 // last setpoint the charge point accepted, A
	enabled     *bool    // last enable command accepted
	phases      int      // phases asked for, 0 when never
}

type transaction struct {
	id      string
	idTag   string
	startWh *float64
	started time.Time
}

func newSession(id string) *Session {
	return &Session{id: id, conns: map[int]*connector{}, lastTrigger: map[int]time.Time{},
		bootSeen: make(chan struct{}), bootWritten: make(chan struct{}, 1)}
}

// connector returns connector n, creating it; the caller holds s.mu.
func (s *Session) connector(n int) *connector {
	if n == 0 {
		return &s.station
	}
	c := s.conns[n]
	if c == nil {
		c = &connector{}
		s.conns[n] = c
	}
	return c
}

// connected starts a new connection generation.
func (s *Session) connected(l link, remote string, now time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.link, s.remote, s.connectedAt, s.lastSeen = l, remote, now, now
	s.bootSeen = make(chan struct{})
	s.bootWritten = make(chan struct{}, 1)
	return s.gen
}

// current returns the live link and its generation, or nil.
func (s *Session) current() (link, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link, s.gen
}

func (s *Session) seen(now time.Time) {
	s.mu.Lock()
	s.lastSeen = now
	s.mu.Unlock()
}

// SessionInfo is a summary of a session, for tests and diagnostics.
type SessionInfo struct {
	ID           string
	Connected    bool
	Protocol     string
	Registration string
	Identity     charger.Identity
	Connectors   []int
}

func (s *Session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	si := SessionInfo{ID: s.id, Connected: s.link != nil, Registration: s.registration, Identity: s.identity}
	if s.link != nil {
		si.Protocol = s.link.proto()
	}
	for n := range s.conns {
		si.Connectors = append(si.Connectors, n)
	}
	sort.Ints(si.Connectors)
	return si
}

// Sessions lists the registry's sessions sorted by identity.
func (r *Registry) Sessions() []SessionInfo {
	r.mu.RLock()
	list := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		list = append(list, s)
	}
	r.mu.RUnlock()
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		out = append(out, s.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Session) capsNow() caps {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caps
}

// connectorIDs lists the connectors (EVSEs) heard of, without 0.
func (s *Session) connectorIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.conns))
	for n := range s.conns {
		ids = append(ids, n)
	}
	sort.Ints(ids)
	return ids
}
