// Package web is evbridge's HTTP server: the dashboard (embedded, works
// offline and under Home Assistant ingress), the REST API under /api/v1
// with its OpenAPI document, server-sent events, /metrics, /healthz and
// /readyz. It reaches the daemon only through the bridge's public API, so
// a command from the web takes the same validated path as one from MQTT.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/config"
)

// Bridge is the part of *bridge.Bridge the web server uses.
type Bridge interface {
	Chargers() []bridge.ChargerView
	Charger(id string) (bridge.ChargerView, bool)
	Submit(id string, c bridge.Command, source string) error
	Subscribe() (<-chan bridge.Event, func())
	Site() (bridge.SiteState, bool)
	SiteEnabled() bool
	Ready() bool
	Connected() bool
	BrokerURL() string
	Pending() []bridge.Candidate
	Accept(id, name string) (string, error)
}

var _ Bridge = (*bridge.Bridge)(nil)

// Options builds a Server.
type Options struct {
	Bridge Bridge
	// HTTP is the config's http section: listen address, auth, ingress.
	HTTP config.HTTP
	// Metrics serves /metrics; nil answers 404 there.
	Metrics http.Handler
	Log     *slog.Logger
	Version string
}

// SupervisorAddr is the only peer trusted in ingress mode: Home Assistant's
// Supervisor, which proxies ingress and authenticates the user.
const SupervisorAddr = "172.30.32.2"

// maxBody bounds every request body; a command is a few dozen bytes.
const maxBody = 16 << 10

// maxStreams bounds concurrent event streams (each holds a goroutine and
// a bridge subscription).
const maxStreams = 64

// Server is the web server. Create it with New, run it with Serve.
type Server struct {
	b       Bridge
	cfg     config.HTTP
	log     *slog.Logger
	version string
	metrics http.Handler
	e       *echo.Echo
	// ingressPeer is the trusted proxy's address (SupervisorAddr; tests
	// change it).
	ingressPeer string
	// readTimeout bounds reading a request, body included (30 s).
	readTimeout time.Duration
	sessionKey  string // cookie value proving the token, "" without a token

	streams chan struct{} // semaphore of open event streams
	closing chan struct{} // closed when Serve stops, ends event streams
	once    sync.Once
	errs    *errorLog
}

// New builds the server without any I/O.
func New(opts Options) (*Server, error) {
	if opts.Bridge == nil {
		return nil, errors.New("web: no bridge")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if (opts.HTTP.Username == "") != (opts.HTTP.Password == "") {
		return nil, errors.New("web: http.username and http.password are set together or not at all")
	}
	s := &Server{b: opts.Bridge, cfg: opts.HTTP, log: opts.Log.With("component", "http"), version: opts.Version,
		metrics: opts.Metrics, ingressPeer: SupervisorAddr, readTimeout: 30 * time.Second, streams: make(chan struct{}, maxStreams),
		closing: make(chan struct{}), errs: newErrorLog(50)}
	if s.cfg.Token != "" {
		s.sessionKey = sessionValue(s.cfg.Token)
	}
	s.e = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.e }

// Echo is the router, for the route table (tests compare it with the
// OpenAPI document).
func (s *Server) Echo() *echo.Echo { return s.e }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The peer is the TCP peer: X-Forwarded-For is never believed, or the
	// ingress check could be talked past.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.recoverPanics, s.securityHeaders, s.ingressOnly, s.limitBody, s.logRequests)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	auth, csrf := s.authenticate, s.sameOrigin
	uiAuth := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	if s.cfg.Username != "" {
		// With basic auth the browser asks for the password when the page
		// itself answers 401.
		uiAuth = auth
	}
	e.GET("/", s.index, uiAuth)
	e.GET("/assets/:file", s.asset, uiAuth)
	e.GET("/metrics", s.serveMetrics, auth)

	api := "/api/v1"
	e.GET(api+"/openapi.json", s.openAPI)
	e.POST(api+"/session", s.login, csrf)
	e.DELETE(api+"/session", s.logout, csrf)
	e.GET(api+"/health", s.health, auth)
	e.GET(api+"/chargers", s.listChargers, auth)
	e.GET(api+"/chargers/:id", s.getCharger, auth)
	e.POST(api+"/chargers/:id/command", s.command, auth, csrf)
	e.GET(api+"/site", s.site, auth)
	e.GET(api+"/discovered", s.listDiscovered, auth)
	e.POST(api+"/discovered/:id/accept", s.accept, auth, csrf)
	e.GET(api+"/events", s.events, auth)
	return e
}

// Serve answers on ln until ctx ends, then shuts down gracefully. It also
// keeps the recent-errors list from the bridge's events.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.warnIfExposed(ln.Addr())
	srv := &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.errs.watch(watchCtx, s.b)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.stop()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.stop()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

func (s *Server) stop() { s.once.Do(func() { close(s.closing) }) }

// warnIfExposed logs loudly when the server answers beyond this machine
// with no authentication.
func (s *Server) warnIfExposed(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() || s.cfg.Ingress || s.cfg.Token != "" || s.cfg.Username != "" {
		return
	}
	s.log.Warn("!!! THE WEB UI AND API ARE OPEN TO THE NETWORK WITHOUT AUTHENTICATION: anyone who can reach "+
		addr.String()+" can change what your chargers do. Set http.token or http.username/password, "+
		"or listen on 127.0.0.1 !!!", "listen", addr.String())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// sendJSON answers v with status; JSON is never cached (live data).
func sendJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	c.Response().WriteHeader(status)
	return writeJSON(c.Response(), v)
}
