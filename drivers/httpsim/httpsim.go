// Package httpsim is the plumbing every simulated HTTP device of evbridge
// shares: a server that can be taken off the network and brought back on
// the same address (as a charger rebooting or losing Wi-Fi does), a clock
// tick for the device logic, request counting and the faults real
// firmware shows (hanging, truncated JSON, an HTML page, an empty body, a
// slow answer). Drivers' simulators keep their device model and routes
// and hand the rest to a Server, so the fault behaviour their tests rely
// on is the same for every device.
package httpsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultSlowDelay is how long FaultSlow waits unless told otherwise:
// longer than the drivers' usual poll timeouts, so a slow device shows.
const DefaultSlowDelay = 3 * time.Second

// Options set up a Server.
type Options struct {
	// Name starts the Server's errors ("goe sim").
	Name string
	// Tick, when positive, runs OnTick that often while the server runs:
	// the device logic most firmware runs once a second.
	Tick   time.Duration
	OnTick func()
}

// Server serves one simulated device's handler. It is safe for concurrent
// use; the zero value is not, use New.
type Server struct {
	opts    Options
	handler http.Handler

	mu        sync.Mutex
	fault     Fault
	slowDelay time.Duration
	requests  map[string]int
	run       *run
	addr      string
}

// run is one Start..Close lifetime.
type run struct {
	srv  *http.Server
	gone chan struct{} // closed when the device goes away
	once sync.Once
	wg   sync.WaitGroup
}

type runKey struct{}

// New returns a stopped server for handler; Start makes it reachable.
func New(opts Options, handler http.Handler) *Server {
	return &Server{opts: opts, handler: handler, slowDelay: DefaultSlowDelay, requests: map[string]int{}}
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Server) Start(ctx context.Context, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return fmt.Errorf("%s: already started", s.opts.Name)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen %s: %w", s.opts.Name, addr, err)
	}
	r := &run{gone: make(chan struct{})}
	// The run rides in every request's context, so Misbehave can tell
	// "the device went away" (drop the connection) from "the client gave
	// up" (just return).
	r.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:    log.New(io.Discard, "", 0),
		BaseContext: func(net.Listener) context.Context { return context.WithValue(context.Background(), runKey{}, r) }}
	s.run, s.addr = r, ln.Addr().String()
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		_ = r.srv.Serve(ln)
	}()
	if s.opts.Tick > 0 && s.opts.OnTick != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(s.opts.Tick)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					s.opts.OnTick()
				case <-r.gone:
					return
				}
			}
		}()
	}
	go func() {
		defer r.wg.Done()
		select {
		case <-ctx.Done():
			s.stop(r)
		case <-r.gone:
		}
	}()
	return nil
}

// Addr is the bound host:port of the last Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close takes the device off the network: the listener and every open
// connection close, hung requests are dropped. Closing a stopped server
// does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	s.stop(r)
	r.wg.Wait()
	return nil
}

// stop ends run r once; the caller may or may not wait for it.
func (s *Server) stop(r *run) {
	r.once.Do(func() {
		close(r.gone)
		_ = r.srv.Close()
		s.mu.Lock()
		if s.run == r {
			s.run = nil
		}
		s.mu.Unlock()
	})
}

// Running returns a channel closed when the present run ends, or nil
// when the server is stopped: for whatever lives as long as the device is
// on the network (an mDNS announcement).
func (s *Server) Running() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	return s.run.gone
}

// Count records one request under key (a path, or "METHOD /path").
func (s *Server) Count(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[key]++
}

// Requests returns how many requests each key got.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// RequestsTo returns how many requests key got.
func (s *Server) RequestsTo(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// Serve runs a simulator until ctx ends, telling ready where it listens:
// what `evbridge sim <driver>` does with every simulator, HTTP or not.
func Serve(ctx context.Context, addr string, ready func(bound string), sim interface {
	Start(ctx context.Context, addr string) error
	Addr() string
	Close() error
}) error {
	if err := sim.Start(ctx, addr); err != nil {
		return err
	}
	if ready != nil {
		ready(sim.Addr())
	}
	announceIfReachable(ctx, sim, sim.Addr())
	<-ctx.Done()
	return sim.Close()
}

// errNotRunning is what a handler sees when called outside a Server.
var errNotRunning = errors.New("httpsim: request not served by a Server")
