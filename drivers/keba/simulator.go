package keba

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "keba_udp",
		Title: "KEBA KeContact P30 (UDP, answers to port 7090), with a car plugged in",
		Run:   runSimulator,
	})
}

// runSimulator serves one simulated station with a car plugged in until
// ctx ends; it backs `evbridge sim keba_udp` and the demo. Like a real
// station it answers to port 7090, where the driver listens by default,
// so it must itself listen on another port (the demo's 127.0.0.1:0 is
// right; several may share one IP).
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	s := NewSimulator(SimConfig{Plugged: true})
	if err := s.Start(ctx, addr); err != nil {
		return err
	}
	if ready != nil {
		ready(s.Addr())
	}
	<-ctx.Done()
	return s.Close()
}

// SimConfig sets up a simulated KEBA P30. Zero fields take defaults.
type SimConfig struct {
	// Serial (default "22334455"), Product (default "KC-P30-EC240422-E00")
	// and Firmware (default "P30 v 3.10.57 (221215-094006)").
	Serial, Product, Firmware string
	// HWCurrent is "Curr HW", the DIP switch limit, mA (default 16000).
	HWCurrent int
	// Car is the simulated car. Its clock (Car.Now) drives the station too.
	Car simcar.Config
	// Plugged starts with the car plugged in.
	Plugged bool
	// ReplyPort is where answers go, on the sender's IP: 7090 by default,
	// as a real station does whatever port asked.
	ReplyPort int
}

// Fault is a misbehaviour the simulator can be told to show.
type Fault int

// Faults the simulator can inject into every answer.
const (
	FaultNone    Fault = iota
	FaultSilent        // take no command, answer nothing
	FaultGarbage       // answer bytes that are not the protocol
	FaultBadJSON       // answer a cut JSON report
	FaultBadData       // answer reports whose values are nonsense
	FaultRefuse        // answer commands with "TCH-ERR"
	FaultSlow          // answer after SetSlowDelay
	FaultNoise         // push a status message and a stale report before each answer
)

// SimSnapshot is what the station shows now: its settings, and the logic
// results of the last tick.
type SimSnapshot struct {
	stationView
	EnableUser                    bool
	CurrUser, CurrHW, CurrFS      int // mA
	TmoFS                         int // s
	TimerPending, Tripped, Cabled bool
	// Tick counts logic runs; equal ticks mean equal logic results.
	Tick uint64
}

// SimStats counts what reached the station.
type SimStats struct {
	Datagrams int
	// Reports counts "report 1..3"; Commands the rest, by command word.
	Reports  [4]int
	Commands map[string]int
	// Violations lists datagrams dropped for breaking the spacing rules.
	Violations []string
}

// Simulator is a simulated KEBA station on UDP. It is safe for concurrent
// use.
type Simulator struct {
	cfg  SimConfig
	car  *simcar.Car
	now  func() time.Time // the station's clock, shared with the car
	wall func() time.Time // the network's clock, for the spacing rules
	t    timing           // the spacing it enforces
	tick time.Duration    // logic period

	mu        sync.Mutex
	dev       device
	fault     Fault
	slowDelay time.Duration
	onCommand func(cmd string)
	stats     SimStats
	lastFrom  netip.Addr // status messages go to the last sender
	lastAt    time.Time
	lastStop  bool
	lastText  map[string]time.Time
	run       *simRun
	addr      string
}

type simRun struct {
	pc   net.PacketConn
	gone chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// NewSimulator returns a stopped simulator; Start makes it reachable.
func NewSimulator(cfg SimConfig) *Simulator {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Serial, "22334455")
	def(&cfg.Product, "KC-P30-EC240422-E00")
	def(&cfg.Firmware, "P30 v 3.10.57 (221215-094006)")
	if cfg.HWCurrent < minMilliAmps || cfg.HWCurrent > hwTop {
		cfg.HWCurrent = 16000
	}
	if cfg.ReplyPort == 0 {
		cfg.ReplyPort = Port
	}
	if cfg.Car.Now == nil {
		cfg.Car.Now = time.Now
	}
	s := &Simulator{cfg: cfg, car: simcar.New(cfg.Car), now: cfg.Car.Now, wall: time.Now, t: defaultTiming(),
		tick: time.Second, slowDelay: 3 * time.Second, lastText: map[string]time.Time{}}
	s.stats.Commands = map[string]int{}
	s.dev = newDevice(cfg, s.now())
	s.Plug(cfg.Plugged)
	s.step()
	return s
}

// Start listens on addr (e.g. "127.0.0.2:7090") and serves until Close or
// until ctx ends. After Close it may be started again.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("keba sim: already started")
	}
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("keba sim: listen %s: %w", addr, err)
	}
	r := &simRun{pc: pc, gone: make(chan struct{})}
	s.run, s.addr = r, pc.LocalAddr().String()
	r.wg.Add(3)
	go func() { defer r.wg.Done(); s.serve(r) }()
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(s.tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.push(r, s.step())
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

// Close takes the station off the network; the car stays as it was.
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
		_ = r.pc.Close()
		s.mu.Lock()
		if s.run == r {
			s.run = nil
		}
		s.mu.Unlock()
	})
}

// Plug plugs the car in or out; the station notices at its next tick.
func (s *Simulator) Plug(plugged bool) {
	s.car.Plug(plugged)
	s.mu.Lock()
	s.dev.plug(plugged)
	s.mu.Unlock()
}

// Snapshot returns what the station shows now.
func (s *Simulator) Snapshot() SimSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.dev
	return SimSnapshot{stationView: d.view, EnableUser: d.enableUser, CurrUser: d.currUser,
		CurrHW: d.hw, CurrFS: d.fsCurr, TmoFS: d.fsTimeout, TimerPending: d.timerOn,
		Tripped: d.tripped, Cabled: d.plugged, Tick: d.ticks}
}

// Stats returns the counters of what reached the station.
func (s *Simulator) Stats() SimStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Commands = maps.Clone(s.stats.Commands)
	st.Violations = slices.Clone(s.stats.Violations)
	return st
}

// SetFault makes every following answer misbehave as f says.
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

// OnCommand registers fn, called with every command taken, before the
// answer; nil removes it.
func (s *Simulator) OnCommand(fn func(cmd string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCommand = fn
}

// step runs the station's logic once and returns what changed.
func (s *Simulator) step() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.dev.view
	s.dev.tick(s.now(), s.car)
	return changes(before, s.dev.view)
}
