package mqttmeter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// SimConfig sets up the simulator; zero fields take the defaults.
type SimConfig struct {
	// Prefix starts every topic (default "evbridge-sim").
	Prefix string
	// Interval is how often the values are published (default 1 s).
	Interval time.Duration
	// Profile gives PV and house power at now, W (default 3000 and 800).
	Profile func(now time.Time) (pv, house float64)
	Logger  *slog.Logger
}

// Simulator is an embedded MQTT broker (anonymous access) publishing a
// house's values, retained, every interval:
//
//	<prefix>/grid/power      plain number, W, positive = import
//	<prefix>/pv/power        plain number, W
//	<prefix>/battery/state   {"power": W, "soc": %, "time": RFC 3339}
//
// The battery charges with half the surplus, up to 2 kW, and covers
// half the deficit, up to 1.5 kW; its power is positive while
// discharging, as evbridge's battery meter wants.
type Simulator struct {
	cfg SimConfig
	log *slog.Logger

	mu     sync.Mutex
	server *mqtt.Server
	tcp    *listeners.TCP
	soc    float64
	last   time.Time
	stop   chan struct{}
	done   chan struct{}
}

// NewSimulator returns a stopped simulator.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Prefix == "" {
		cfg.Prefix = "evbridge-sim"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Profile == nil {
		cfg.Profile = func(time.Time) (float64, float64) { return 3000, 800 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "mqtt_topic"), soc: 50}
}

// Start runs the broker on addr (port 0 picks one) and publishes until
// ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	server := mqtt.New(&mqtt.Options{InlineClient: true, Logger: s.log})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return fmt.Errorf("mqtt sim: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := server.AddListener(tcp); err != nil {
		return fmt.Errorf("mqtt sim: listen on %s: %w", addr, err)
	}
	if err := server.Serve(); err != nil {
		return fmt.Errorf("mqtt sim: %w", err)
	}
	s.mu.Lock()
	s.server, s.tcp, s.stop, s.done = server, tcp, make(chan struct{}), make(chan struct{})
	stop, done := s.stop, s.done
	s.mu.Unlock()
	s.publish(time.Now())
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				go s.Close()
				return
			case <-stop:
				return
			case now := <-t.C:
				s.publish(now)
			}
		}
	}()
	s.log.Info("simulator broker listening", "url", s.URL(), "prefix", s.cfg.Prefix)
	return nil
}

// Addr is the broker's address.
func (s *Simulator) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Address()
}

// URL is the broker's URL.
func (s *Simulator) URL() string { return "tcp://" + s.Addr() }

// Topic is the full topic of a value: "grid/power", "pv/power" or
// "battery/state".
func (s *Simulator) Topic(name string) string { return s.cfg.Prefix + "/" + name }

// Publish sends a message through the broker (retained or not).
func (s *Simulator) Publish(topic, payload string, retain bool) error {
	s.mu.Lock()
	server := s.server
	s.mu.Unlock()
	if server == nil {
		return fmt.Errorf("mqtt sim: not running")
	}
	return server.Publish(topic, []byte(payload), retain, 0)
}

// publish sends the house's values at now.
func (s *Simulator) publish(now time.Time) {
	pv, house := s.cfg.Profile(now)
	s.mu.Lock()
	bat := math.Max(-1500, math.Min(2000, (pv-house)/2))
	if (bat > 0 && s.soc >= 100) || (bat < 0 && s.soc <= 5) {
		bat = 0
	}
	if !s.last.IsZero() {
		s.soc = math.Max(0, math.Min(100, s.soc+bat*now.Sub(s.last).Hours()/100)) // 10 kWh
	}
	s.last = now
	soc := math.Round(s.soc*10) / 10
	s.mu.Unlock()
	state, _ := json.Marshal(map[string]any{"power": 0 - math.Round(bat), "soc": soc, "time": now.UTC().Format(time.RFC3339Nano)})
	for topic, payload := range map[string]string{
		"grid/power":    strconv.FormatFloat(math.Round((house-pv+bat)*10)/10, 'f', -1, 64),
		"pv/power":      strconv.FormatFloat(math.Round(pv), 'f', -1, 64),
		"battery/state": string(state),
	} {
		if err := s.Publish(s.Topic(topic), payload, true); err != nil {
			s.log.Debug("publish failed", "topic", topic, "err", err)
		}
	}
}

// Close stops publishing and the broker.
func (s *Simulator) Close() error {
	s.mu.Lock()
	server, stop, done := s.server, s.stop, s.done
	s.server = nil
	s.mu.Unlock()
	if server == nil {
		return nil
	}
	close(stop)
	<-done
	return server.Close()
}

// runSimulator serves `evbridge sim mqtt_topic`: a broker on addr whose
// house has a sun rising and setting every ten minutes. A grid meter on
// it (address: the simulator's):
//
//	driver: mqtt_topic
//	options: {topic: evbridge-sim/grid/power}
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	start := time.Now()
	s := NewSimulator(SimConfig{Logger: slog.Default(), Profile: func(now time.Time) (float64, float64) {
		t := now.Sub(start).Seconds()
		return math.Max(0, 5000*math.Sin(2*math.Pi*t/600)), 700 + 300*math.Sin(2*math.Pi*t/47)
	}})
	return httpsim.Serve(ctx, addr, ready, s)
}
