package httpmeter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
)

// SimConfig sets up a simulated JSON endpoint; zero fields take the
// defaults.
type SimConfig struct {
	// Path is where the document is served (default "/", where the
	// driver looks when only the meter's address is set); other paths
	// answer 404.
	Path string
	// Document returns the value served at now, as JSON (default: a
	// fixed site document, see SiteDocument). It is called under the
	// simulator's lock, so it may keep state.
	Document func(now time.Time) any
	Logger   *slog.Logger
}

// Simulator serves a JSON document over HTTP.
type Simulator struct {
	cfg SimConfig
	log *slog.Logger
	// srv is the network side: lifetime and the count of documents served.
	srv *httpsim.Server

	mu     sync.Mutex
	doc    func(time.Time) any
	raw    []byte // served verbatim when set
	status int
}

// NewSimulator returns a stopped simulator.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Document == nil {
		cfg.Document = SiteDocument(func(time.Time) (float64, float64) { return 3000, 800 })
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "http_json"), doc: cfg.Document, status: http.StatusOK}
	s.srv = httpsim.New(httpsim.Options{Name: "http_json sim"}, http.HandlerFunc(s.serve))
	return s
}

// Start serves on addr (port 0 picks one) until ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	if err := s.srv.Start(ctx, addr); err != nil {
		return err
	}
	s.log.Info("simulator listening", "url", s.URL())
	return nil
}

// Addr is the address the simulator listens on.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// URL is the document's URL.
func (s *Simulator) URL() string { return "http://" + s.Addr() + s.cfg.Path }

// Close stops serving.
func (s *Simulator) Close() error { return s.srv.Close() }

// SetDocument serves v (marshalled to JSON) from now on.
func (s *Simulator) SetDocument(v any) {
	s.mu.Lock()
	s.doc, s.raw = func(time.Time) any { return v }, nil
	s.mu.Unlock()
}

// SetRaw serves body verbatim from now on, JSON or not.
func (s *Simulator) SetRaw(body string) { s.mu.Lock(); s.raw = []byte(body); s.mu.Unlock() }

// SetStatus sets the HTTP status of the answers (default 200).
func (s *Simulator) SetStatus(code int) { s.mu.Lock(); s.status = code; s.mu.Unlock() }

// Requests is the number of requests served.
func (s *Simulator) Requests() int { return s.srv.RequestsTo(s.cfg.Path) }

func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.cfg.Path || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	s.srv.Count(s.cfg.Path)
	s.mu.Lock()
	status, body := s.status, s.raw
	if body == nil {
		var err error
		if body, err = json.Marshal(s.doc(time.Now())); err != nil {
			body = []byte(err.Error())
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// SiteDocument returns a document of a house with PV, a home battery
// and a grid meter, driven by profile (PV and house power, W):
//
//	{"time": "2024-06-01T12:00:00.5Z",
//	 "grid": {"power": W, "currents": [A, A, A], "voltages": [V, V, V],
//	          "import_wh": Wh, "export_wh": Wh},
//	 "pv": {"power_kw": kW},
//	 "battery": {"power": W, "soc": "%"}}
//
// The battery charges with half the surplus (up to 2 kW) and covers
// half the deficit (up to 1.5 kW). Grid power is positive when
// importing, battery power when discharging (evbridge's conventions).
// The SoC is text, as Home Assistant states are.
func SiteDocument(profile func(now time.Time) (pv, house float64)) func(now time.Time) any {
	var last time.Time
	importWh, exportWh, soc := 1_000_000.0, 250_000.0, 50.0
	return func(now time.Time) any {
		pv, house := profile(now)
		bat := math.Max(-1500, math.Min(2000, (pv-house)/2))
		if (bat > 0 && soc >= 100) || (bat < 0 && soc <= 5) {
			bat = 0
		}
		grid := house - pv + bat
		if !last.IsZero() {
			h := now.Sub(last).Hours()
			if grid > 0 {
				importWh += grid * h
			} else {
				exportWh -= grid * h
			}
			soc = math.Max(0, math.Min(100, soc+bat*h/100)) // a 10 kWh battery
		}
		last = now
		r := func(v float64) float64 { return math.Round(v*10) / 10 }
		var amps, volts [3]float64
		for i := range amps {
			volts[i] = 230 + float64(i)/2
			amps[i] = math.Round(grid/3/volts[i]*100) / 100
		}
		return map[string]any{
			"time": now.UTC().Format(time.RFC3339Nano),
			"grid": map[string]any{"power": r(grid), "currents": amps, "voltages": volts,
				"import_wh": math.Round(importWh), "export_wh": math.Round(exportWh)},
			"pv":      map[string]any{"power_kw": math.Round(pv) / 1000},
			"battery": map[string]any{"power": r(0 - bat), "soc": fmt.Sprintf("%.1f", soc)},
		}
	}
}

// runSimulator serves `evbridge sim http_json` at /; a day lasts ten
// minutes. A meter reading its grid values (address: the simulator's):
//
//	driver: http_json
//	options:
//	  power: {path: grid.power}
//	  currents: [{path: "grid.currents[0]"}, {path: "grid.currents[1]"}, {path: "grid.currents[2]"}]
//	  energy_import: {path: grid.import_wh, scale: 0.001}
//	  time_path: time
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	start := time.Now()
	s := NewSimulator(SimConfig{Logger: slog.Default(), Document: SiteDocument(func(now time.Time) (float64, float64) {
		t := now.Sub(start).Seconds()
		return math.Max(0, 5000*math.Sin(2*math.Pi*t/600)), 700 + 300*math.Sin(2*math.Pi*t/47)
	})})
	return httpsim.Serve(ctx, addr, ready, s)
}
