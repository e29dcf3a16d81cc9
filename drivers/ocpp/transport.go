package ocpp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// The WebSocket server is ours; OCPP-J framing stays the library's. ocpp-go
// v0.18.0's ws.Server cannot serve a LAN daemon: Start(port, path) binds
// every interface, it sets no read limit (any frame size is buffered), it
// refuses a reconnecting charge point while its dead connection lingers, and
// it blocks on its error channel. Each endpoint below implements ws.WsServer
// for one subprotocol and feeds one ocppj.Server; the transport owns the
// listener, the handshake (path, subprotocol, HTTP Basic auth) and the
// connections.

const (
	writeWait    = 10 * time.Second
	outQueueSize = 32
	// maxConns bounds the connections of one central system; more are
	// refused with HTTP 503 before the upgrade.
	maxConns = 2048
)

// transport is the central system's WebSocket server.
type transport struct {
	cfg   ServerConfig
	log   *slog.Logger
	admit func(id string, r *http.Request) int // 0 admits, else an HTTP status
	eps   map[string]*endpoint
	order []string // subprotocols by preference

	srv *http.Server
	ln  net.Listener

	mu     sync.Mutex
	conns  map[string]*wsConn
	closed bool
	wg     sync.WaitGroup // one per live connection
}

func newTransport(cfg ServerConfig, log *slog.Logger) *transport {
	t := &transport{cfg: cfg, log: log, eps: map[string]*endpoint{}, conns: map[string]*wsConn{},
		admit: func(string, *http.Request) int { return 0 }}
	for _, p := range cfg.Protocols {
		t.order = append(t.order, p)
		t.eps[p] = &endpoint{t: t, proto: p}
	}
	return t
}

// listen binds the listener; serving starts with serve.
func (t *transport) listen() error {
	ln, err := net.Listen("tcp", t.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ocpp: listen on %s: %w", t.cfg.Listen, err)
	}
	if t.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.cfg.TLS.CertFile, t.cfg.TLS.KeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("ocpp: load tls certificate: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if t.cfg.TLS.ClientCAFile != "" {
			pool, err := loadCAs(t.cfg.TLS.ClientCAFile)
			if err != nil {
				_ = ln.Close()
				return err
			}
			// Asked, verified when given, not required: profile 2 and 3
			// charge points share the port; admit enforces each one's.
			tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
		}
		ln = tls.NewListener(ln, tc)
	}
	t.ln = ln
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(t.log.Handler(), slog.LevelDebug)}
	return nil
}

func (t *transport) serve() {
	if err := t.srv.Serve(t.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.log.Error("ocpp server stopped", "err", err)
	}
}

// close stops listening, closes every connection and waits for their
// disconnect handlers.
func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	conns := make([]*wsConn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	if t.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = t.srv.Shutdown(ctx)
		cancel()
	}
	for _, c := range conns {
		c.shutdown(websocket.CloseGoingAway, "central system stopping")
	}
	t.wg.Wait()
}

// identity extracts the charge point identity from the request path.
func (t *transport) identity(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, t.cfg.PathPrefix+"/")
	if !ok || checkIdentity(rest) != nil {
		return "", false
	}
	return rest, true
}

// negotiate picks the subprotocol. A client that offers none is taken to
// speak the first configured one: a few chargers omit the header.
func (t *transport) negotiate(offered []string) (proto string, echo bool) {
	if len(offered) == 0 {
		return t.order[0], false
	}
	for _, p := range t.order {
		for _, o := range offered {
			if o == p {
				return p, true
			}
		}
	}
	return "", false
}

func (t *transport) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := t.log.With("remote", r.RemoteAddr)
	id, ok := t.identity(r.URL.Path)
	if !ok {
		log.Warn("ocpp connection refused: no charge point identity in path", "path", r.URL.Path, "want", t.cfg.PathPrefix+"/<id>")
		http.NotFound(w, r)
		return
	}
	log = log.With("charge_point", id)
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "OCPP central system: connect with a WebSocket client", http.StatusBadRequest)
		return
	}
	offered := websocket.Subprotocols(r)
	proto, echo := t.negotiate(offered)
	if proto == "" {
		log.Warn("ocpp connection refused: no common subprotocol", "offered", offered, "supported", t.order)
		http.Error(w, "unsupported subprotocol; supported: "+strings.Join(t.order, ", "), http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	full := len(t.conns) >= maxConns
	t.mu.Unlock()
	if full {
		log.Warn("ocpp connection refused: too many connections", "max", maxConns)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	if code := t.admit(id, r); code != 0 {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="OCPP", charset="UTF-8"`)
		}
		http.Error(w, http.StatusText(code), code)
		return
	}
	hdr := http.Header{}
	if echo {
		hdr.Set("Sec-WebSocket-Protocol", proto)
	}
	up := websocket.Upgrader{HandshakeTimeout: 10 * time.Second}
	conn, err := up.Upgrade(w, r, hdr)
	if err != nil {
		log.Warn("ocpp websocket upgrade failed", "err", err)
		return
	}
	conn.SetReadLimit(int64(t.cfg.MaxFrameBytes))
	c := newWSConn(id, t.eps[proto], conn, r.TLS)
	if !t.register(c) {
		_ = conn.Close()
		return
	}
	log.Info("charge point connected", "protocol", proto, "tls", r.TLS != nil)
	t.start(c)
}

// register makes c the connection of its identity. An older connection of
// the same identity (a charge point reconnecting while its dead link has
// not timed out yet) is closed first, and its disconnect handled, so that
// the library never sees two clients with one id.
func (t *transport) register(c *wsConn) bool {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return false
		}
		old := t.conns[c.id]
		if old == nil {
			t.conns[c.id] = c
			t.wg.Add(1)
			t.mu.Unlock()
			return true
		}
		t.mu.Unlock()
		t.log.Info("charge point reconnected; closing its previous connection", "charge_point", c.id)
		old.shutdown(websocket.ClosePolicyViolation, "replaced by a new connection")
		<-old.done
	}
}

// start runs c: the endpoint learns of the client before the first
// message is read.
func (t *transport) start(c *wsConn) {
	go c.writePump(t.cfg.PingInterval)
	if h := c.ep.newClient; h != nil {
		h(c)
	}
	go c.readPump(2*t.cfg.PingInterval + writeWait)
	go t.finish(c)
}

// finish waits for both pumps, then unregisters c and tells the endpoint.
func (t *transport) finish(c *wsConn) {
	<-c.readDone
	<-c.writeDone
	_ = c.conn.Close()
	t.mu.Lock()
	if t.conns[c.id] == c {
		delete(t.conns, c.id)
	}
	t.mu.Unlock()
	t.log.Info("charge point disconnected", "charge_point", c.id, "reason", c.reason())
	if h := c.ep.disconnected; h != nil {
		h(c)
	}
	close(c.done)
	t.wg.Done()
}

func (t *transport) conn(id string) *wsConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns[id]
}

// endpoint is the ws.WsServer of one subprotocol.
type endpoint struct {
	t            *transport
	proto        string
	handler      func(ws.Channel, []byte) error
	newClient    func(ws.Channel)
	disconnected func(ws.Channel)
	// written is told the message type of every frame written (3 for a
	// CALLRESULT), once it is on the wire.
	written func(id string, msgType byte)
	// lockClient, when set, is held while a charge point's frame is
	// handled (see dispatcher).
	lockClient func(id string) (unlock func())
}

// Start and Stop are no-ops: the transport serves every endpoint.
func (e *endpoint) Start(int, string) {}
func (e *endpoint) Stop()             {}

func (e *endpoint) StopConnection(id string, ce websocket.CloseError) error {
	c := e.t.conn(id)
	if c == nil || c.ep != e {
		return fmt.Errorf("no connection for %s", id)
	}
	c.shutdown(ce.Code, ce.Text)
	return nil
}

func (e *endpoint) Errors() <-chan error { return nil }
func (e *endpoint) SetMessageHandler(h func(ws.Channel, []byte) error) {
	e.handler = func(ch ws.Channel, data []byte) error {
		if e.lockClient != nil {
			defer e.lockClient(ch.ID())()
		}
		return h(ch, data)
	}
}
func (e *endpoint) SetNewClientHandler(h func(ws.Channel))                 { e.newClient = h }
func (e *endpoint) SetDisconnectedClientHandler(h func(ws.Channel))        { e.disconnected = h }
func (e *endpoint) SetTimeoutConfig(ws.ServerTimeoutConfig)                {}
func (e *endpoint) AddSupportedSubprotocol(string)                         {}
func (e *endpoint) SetBasicAuthHandler(func(string, string) bool)          {}
func (e *endpoint) SetCheckOriginHandler(func(*http.Request) bool)         {}
func (e *endpoint) SetCheckClientHandler(func(string, *http.Request) bool) {}

func (e *endpoint) Addr() *net.TCPAddr {
	if e.t.ln == nil {
		return nil
	}
	a, _ := e.t.ln.Addr().(*net.TCPAddr)
	return a
}

// Write queues data for the charge point; it never blocks longer than
// writeWait, and drops a connection whose queue stays full.
func (e *endpoint) Write(id string, data []byte) error {
	c := e.t.conn(id)
	if c == nil || c.ep != e {
		return fmt.Errorf("charge point %s is not connected", id)
	}
	return c.send(data)
}

var _ ws.WsServer = (*endpoint)(nil)

// loadCAs reads PEM CA certificates for verifying charge point
// certificates.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ocpp: tls client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ocpp: tls client_ca_file %s: no PEM certificate in it", path)
	}
	return pool, nil
}
