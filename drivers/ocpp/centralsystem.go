package ocpp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// remoteIDTag is the idTag evbridge starts transactions with
// (RemoteStartTransaction); it is always authorized.
const remoteIDTag = "evbridge"

// pendingRetry is the interval a Pending charge point is told to retry its
// BootNotification at.
const pendingRetry = 60 * time.Second

// CentralSystem is the OCPP central system (CSMS): one WebSocket server
// for every charge point of the process. Charge points are matched to
// drivers through a Registry by identity.
type CentralSystem struct {
	cfg   ServerConfig
	reg   *Registry
	host  charger.ServiceHost
	log   *slog.Logger
	t     *transport
	v16   *v16
	v201  *v201
	known map[string]string // charge_points: id → password
	// profiles holds the charge_points entries that name a security
	// profile.
	profiles map[string]KnownChargePoint
	tags     map[string]bool
	txSeq    atomic.Int64
	now      func() time.Time
	// meterMsgs counts meter value messages (MeterValues and transaction
	// events with values), for diagnostics and the fleet benchmark.
	meterMsgs atomic.Int64

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool
	closeO  sync.Once
	// bgMu orders background's wg.Add against Close's wg.Wait: a
	// charge point's message handled while closing must not start work.
	bgMu    sync.Mutex
	closing bool
}

// NewCentralSystem builds a central system for reg without I/O. host may
// be nil (unknown charge points are then only logged).
func NewCentralSystem(cfg ServerConfig, reg *Registry, host charger.ServiceHost, log *slog.Logger) (*CentralSystem, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = DefaultRegistry
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ocpp")
	cs := &CentralSystem{cfg: cfg, reg: reg, host: host, log: log, known: map[string]string{},
		tags: map[string]bool{}, now: time.Now}
	cs.profiles = map[string]KnownChargePoint{}
	for _, cp := range cfg.ChargePoints {
		cs.known[cp.ID] = cp.Password
		if cp.SecurityProfile != 0 {
			cs.profiles[cp.ID] = cp
		}
	}
	for _, tag := range cfg.IDTags {
		cs.tags[tag] = true
	}
	cs.txSeq.Store(time.Now().Unix() % 1_000_000_000)
	cs.ctx, cs.cancel = context.WithCancel(context.Background())
	cs.t = newTransport(cfg, log)
	cs.t.admit = cs.admit
	for proto, ep := range cs.t.eps {
		ep.written = cs.onWritten
		switch proto {
		case ProtoOCPP16:
			cs.v16 = newV16(cs, ep)
		case ProtoOCPP201:
			cs.v201 = newV201(cs, ep)
		}
	}
	return cs, nil
}

// Start listens and serves until ctx ends or Close is called. It returns
// once the listener is bound.
func (cs *CentralSystem) Start(ctx context.Context) error {
	if !cs.started.CompareAndSwap(false, true) {
		return errors.New("ocpp: central system already started")
	}
	if cs.reg.served() {
		return errors.New("ocpp: another central system already serves this registry")
	}
	if err := cs.t.listen(); err != nil {
		return err
	}
	cs.reg.attach(cs.onExpect)
	if cs.v16 != nil {
		cs.v16.start()
	}
	if cs.v201 != nil {
		cs.v201.start()
	}
	go cs.t.serve()
	go func() {
		select {
		case <-ctx.Done():
			cs.Close()
		case <-cs.ctx.Done():
		}
	}()
	cs.log.Info("ocpp central system listening", "url", cs.URL(), "protocols", cs.cfg.Protocols, "unknown", cs.cfg.Unknown)
	return nil
}

// Close stops the central system and drops every connection.
func (cs *CentralSystem) Close() {
	cs.closeO.Do(func() {
		cs.cancel()
		cs.t.close()
		if cs.v16 != nil {
			cs.v16.stop()
		}
		if cs.v201 != nil {
			cs.v201.stop()
		}
		cs.reg.detach()
		cs.bgMu.Lock()
		cs.closing = true
		cs.bgMu.Unlock()
		cs.wg.Wait()
	})
}

// Addr is the bound listen address (nil before Start).
func (cs *CentralSystem) Addr() net.Addr {
	if cs.t.ln == nil {
		return nil
	}
	return cs.t.ln.Addr()
}

// URL is what charge points are configured with, before their identity.
func (cs *CentralSystem) URL() string {
	scheme, addr := "ws", cs.cfg.Listen
	if cs.cfg.TLS.CertFile != "" {
		scheme = "wss"
	}
	if a := cs.Addr(); a != nil {
		addr = a.String()
	}
	return scheme + "://" + addr + cs.cfg.PathPrefix
}

// password returns the charge point's password and whether it is known.
func (cs *CentralSystem) password(id string) (string, bool) {
	if pw, ok := cs.reg.expectation(id); ok {
		if pw == "" {
			pw = cs.known[id]
		}
		return pw, true
	}
	pw, ok := cs.known[id]
	return pw, ok
}

func (cs *CentralSystem) isKnown(id string) bool {
	_, ok := cs.password(id)
	return ok
}

// admitted: may the charge point charge and be set up?
func (cs *CentralSystem) admitted(id string) bool {
	return cs.isKnown(id) || cs.cfg.Unknown == UnknownAccept
}

// admit decides the handshake: 0 to admit, else the HTTP status.
func (cs *CentralSystem) admit(id string, r *http.Request) int {
	pw, known := cs.password(id)
	if !known {
		if cs.cfg.Unknown == UnknownRefuse {
			cs.log.Warn("ocpp connection refused: unknown charge point (policy refuse)", "charge_point", id, "remote", r.RemoteAddr)
			return http.StatusNotFound
		}
		return 0
	}
	if code, decided := cs.admitProfile(id, r); decided {
		return code
	}
	if pw == "" {
		return 0
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != id || subtle.ConstantTimeCompare([]byte(pass), []byte(pw)) != 1 {
		cs.log.Warn("ocpp connection refused: wrong or missing password", "charge_point", id,
			"remote", r.RemoteAddr, "sent_credentials", ok)
		return http.StatusUnauthorized
	}
	return 0
}

// authorize decides an idTag.
func (cs *CentralSystem) authorize(id, tag string) bool {
	if !cs.admitted(id) {
		return false
	}
	return len(cs.tags) == 0 || cs.tags[tag] || tag == remoteIDTag
}

func (cs *CentralSystem) nextTxID() int64 { return cs.txSeq.Add(1) }

// background runs fn until the central system closes.
func (cs *CentralSystem) background(fn func(ctx context.Context)) {
	cs.bgMu.Lock()
	defer cs.bgMu.Unlock()
	if cs.closing {
		return
	}
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		fn(cs.ctx)
	}()
}

// Sessions lists what the central system knows of its charge points.
func (cs *CentralSystem) Sessions() []SessionInfo { return cs.reg.Sessions() }

func (cs *CentralSystem) String() string { return fmt.Sprintf("ocpp central system %s", cs.URL()) }

// admitProfile enforces a charge point's configured security profile
// (OCPP 1.6 security whitepaper / 2.0.1 part 2 §A00): the transport it
// must use, and in profile 3 the client certificate instead of the
// password. decided is false when the password check still applies.
func (cs *CentralSystem) admitProfile(id string, r *http.Request) (code int, decided bool) {
	cp, ok := cs.profiles[id]
	if !ok {
		return 0, false
	}
	refuse := func(why string, status int) (int, bool) {
		cs.log.Warn("ocpp connection refused: "+why, "charge_point", id, "remote", r.RemoteAddr,
			"security_profile", cp.SecurityProfile)
		return status, true
	}
	tlsOn := r.TLS != nil
	switch cp.SecurityProfile {
	case 1:
		if tlsOn {
			return refuse("security profile 1 expects ws://, the charge point used wss://", http.StatusBadRequest)
		}
	case 2:
		if !tlsOn {
			return refuse("security profile 2 expects wss://", http.StatusBadRequest)
		}
	case 3:
		if !tlsOn || len(r.TLS.VerifiedChains) == 0 {
			return refuse("security profile 3 expects a client certificate signed by tls.client_ca_file", http.StatusUnauthorized)
		}
		leaf := r.TLS.VerifiedChains[0][0]
		want := cp.CertCN
		if want == "" {
			want = id
		}
		if leaf.Subject.CommonName != want {
			return refuse(fmt.Sprintf("client certificate is for %q, not %q", leaf.Subject.CommonName, want), http.StatusForbidden)
		}
		if org := cs.cfg.TLS.Organization; org != "" && !slices.Contains(leaf.Subject.Organization, org) {
			return refuse(fmt.Sprintf("client certificate organization %v is not %q", leaf.Subject.Organization, org), http.StatusForbidden)
		}
		return 0, true // the certificate authenticates; no password
	}
	return 0, false
}
