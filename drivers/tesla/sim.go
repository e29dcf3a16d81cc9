package tesla

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

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "tesla_wc3",
		Title: "Tesla Wall Connector Gen 3 (read-only), with a car plugged in",
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			s := NewSimulator(SimConfig{Plugged: true})
			if err := s.Start(ctx, addr); err != nil {
				return err
			}
			if ready != nil {
				ready(s.Addr())
			}
			<-ctx.Done()
			return s.Close()
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

// Fault is a misbehaviour the simulator can be told to show.
type Fault int

// Faults the simulator can inject into every HTTP reply.
const (
	FaultNone         Fault = iota
	FaultHang               // accept the request, never answer until Close
	FaultGarbage            // 200 with truncated JSON
	FaultHTML               // 200 with an HTML page
	FaultEmpty              // 200 with an empty body
	FaultSlow               // answer normally after SetSlowDelay
	FaultMissingBrace       // the reply without its closing brace, as firmware slips
)

// Simulator is a simulated Wall Connector Gen 3 with its local API. It
// is safe for concurrent use.
type Simulator struct {
	cfg SimConfig
	car *simcar.Car
	now func() time.Time

	mu        sync.Mutex
	dev       twc
	fault     Fault
	slowDelay time.Duration
	requests  map[string]int
	run       *simRun
	addr      string
}

type simRun struct {
	srv  *http.Server
	gone chan struct{}
	once sync.Once
	wg   sync.WaitGroup
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
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: cfg.Car.Now, slowDelay: 3 * time.Second,
		requests: map[string]int{}}
	// The device has been up for a while (the client's example: 35779 s).
	s.dev = twc{offered: cfg.Breaker, booted: s.now().Add(-35779 * time.Second), plugged: cfg.Plugged}
	s.car.Plug(cfg.Plugged)
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close or
// until ctx ends. After Close it may be started again, on the same address.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("tesla sim: already started")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tesla sim: listen %s: %w", addr, err)
	}
	r := &simRun{gone: make(chan struct{})}
	r.srv = &http.Server{Handler: s.handler(r), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	s.run, s.addr = r, ln.Addr().String()
	r.wg.Add(3)
	go func() {
		defer r.wg.Done()
		_ = r.srv.Serve(ln)
	}()
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.step()
			case <-r.gone:
				return
			}
		}
	}()
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
func (s *Simulator) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close takes the device off the network; the car stays as it was.
func (s *Simulator) Close() error {
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

func (s *Simulator) stop(r *simRun) {
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
func (s *Simulator) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// SetFault makes every following reply misbehave as f says.
func (s *Simulator) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetSlowDelay sets how long FaultSlow waits before answering (default 3 s).
func (s *Simulator) SetSlowDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowDelay = d
}

func (s *Simulator) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dev.tick(s.cfg, s.car)
}
