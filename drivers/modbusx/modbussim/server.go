// Package modbussim is the plumbing every Modbus charger simulator
// shares: a real Modbus TCP server (github.com/simonvetter/modbus) that
// can be closed and started again on the same address, a model clock,
// request counters and fault injection. A simulator embeds *Server and
// keeps only its register map and device model, so that every driver is
// tested against the same network behaviour.
package modbussim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/simonvetter/modbus"
)

// Config sets up a Server.
type Config struct {
	// Name prefixes errors and names the simulator in logs ("alfen").
	Name string
	// Handler answers the requests the library server decodes.
	Handler modbus.RequestHandler
	// IdleTimeout closes a master idle this long (default 1 min).
	IdleTimeout time.Duration
	// MaxClients is how many masters may connect at once.
	MaxClients uint
	// Tick moves the device model on; it is called every TickEvery
	// (default 100 ms) while the server runs. It takes its own locks.
	Tick      func(now time.Time)
	TickEvery time.Duration
	// Listen, if set, replaces the library server: it serves addr and
	// returns the bound address and how to stop. Simulators of a framing
	// the library does not serve (RTU or ASCII over TCP) use it, most
	// simply through ListenStream.
	Listen func(addr string) (bound string, stop func() error, err error)
	// LogAttrs are added to the "simulator listening" record.
	LogAttrs []any
	Logger   *slog.Logger
}

// Server is a simulator's network side. The embedded Faults give every
// simulator Busy, Drop, Delay, Hang, Counters and Masters.
type Server struct {
	Faults
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	stop func() error
	addr string
	done chan struct{}
}

// New returns a stopped server.
func New(cfg Config) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: cfg.Logger}
}

// Start serves on addr (port 0 picks a free port) until ctx ends or
// Close. After Close it may be started again, on the same address to
// simulate a station that restarts.
func (s *Server) Start(ctx context.Context, addr string) error {
	listen := s.cfg.Listen
	if listen == nil {
		listen = s.listenTCP
	}
	bound, stop, err := listen(addr)
	if err != nil {
		return fmt.Errorf("%s sim: %w", s.cfg.Name, err)
	}
	s.mu.Lock()
	s.stop, s.addr, s.done = stop, bound, make(chan struct{})
	done := s.done
	s.mu.Unlock()
	go s.run(ctx, done)
	s.log.Info("simulator listening", append([]any{"addr", bound}, s.cfg.LogAttrs...)...)
	return nil
}

// listenTCP starts the library's server. The library may fail to bind a
// port just freed by a restart, hence the retries.
func (s *Server) listenTCP(addr string) (string, func() error, error) {
	var srv *modbus.ModbusServer
	var err error
	for try := 0; try < 5; try++ {
		var a string
		if a, err = Bindable(addr); err != nil {
			return "", nil, err
		}
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{
			URL: "tcp://" + a, Timeout: s.cfg.IdleTimeout, MaxClients: s.cfg.MaxClients,
			Logger: modbusx.LibLogger(s.log),
		}, s.cfg.Handler)
		if err == nil {
			if err = srv.Start(); err == nil {
				return a, srv.Stop, nil
			}
		}
	}
	return "", nil, fmt.Errorf("listen on %s: %w", addr, err)
}

// Bindable turns a port 0 into a free port: the library binds itself and
// does not tell which port it got.
func Bindable(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// run moves the model on until ctx ends (which closes the server) or
// Close.
func (s *Server) run(ctx context.Context, done chan struct{}) {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			return
		case <-done:
			return
		case <-t.C:
			if s.cfg.Tick != nil {
				s.cfg.Tick(time.Now())
			}
		}
	}
}

// Addr is the address the simulator listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops serving and drops every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(done)
	s.release()
	return stop()
}
