package shelly

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
)

// SimConfig sets up a simulated Shelly Pro 3EM; zero fields take the
// defaults.
type SimConfig struct {
	// DeviceID is the device id, also the digest realm (default
	// "shellypro3em-0cb815fcaff4").
	DeviceID string
	// Password turns authentication on (SHA-256 digest, user admin).
	Password string
	// SingleUseNonce accepts each nonce for one request only, as
	// firmware before 2.0 does.
	SingleUseNonce bool
	// Power is the per-phase active power profile, W, positive = import
	// (default 500, 300 and 200 W).
	Power func(now time.Time) [3]float64
	// Voltage is the line to neutral voltage (default 230 V).
	Voltage float64
	// ImportWh and ExportWh are the counters at start.
	ImportWh, ExportWh float64
	Logger             *slog.Logger
}

// Fault is a misbehaviour of the simulated device.
type Fault int

// Faults the simulator can show on the RPC endpoints.
const (
	FaultNone         Fault = iota
	FaultGarbage            // 200 with truncated JSON
	FaultHTML               // 200 with an HTML page
	FaultEmpty              // 200 with an empty body
	FaultHang               // never answer until Close or the client gives up
	FaultMeterFailure       // EM errors: ["power_meter_failure"]
	FaultNoEnergy           // EMData.GetStatus answers a 500 RPC error
)

// httpFaults are the faults httpsim shows for this device.
var httpFaults = map[Fault]httpsim.Fault{FaultGarbage: httpsim.FaultGarbage, FaultHTML: httpsim.FaultHTML,
	FaultEmpty: httpsim.FaultEmpty, FaultHang: httpsim.FaultHang}

// replies are the simulator's broken bodies; garbage and empty replies
// carry no Content-Type, as they always did here.
var replies = httpsim.Replies{Garbage: `{"id":0,"a_current":1.2,"total_act_po`,
	HTML: "<html><body>Shelly</body></html>", Unlabelled: true}

// Simulator is a Shelly Pro 3EM on a real HTTP server.
type Simulator struct {
	cfg SimConfig
	log *slog.Logger
	// srv is the network side: lifetime, request counts (by path).
	srv *httpsim.Server

	mu       sync.Mutex
	power    func(time.Time) [3]float64
	importWh float64
	exportWh float64
	last     time.Time
	fault    Fault
	nonces   map[string]uint64 // nonce → highest nc used
}

// NewSimulator returns a stopped simulator.
func NewSimulator(cfg SimConfig) *Simulator {
	if cfg.DeviceID == "" {
		cfg.DeviceID = "shellypro3em-0cb815fcaff4"
	}
	if cfg.Voltage <= 0 {
		cfg.Voltage = 230
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger.With("sim", "shelly_pro3em"), power: cfg.Power,
		importWh: cfg.ImportWh, exportWh: cfg.ExportWh, last: time.Now(),
		nonces: map[string]uint64{}}
	if s.power == nil {
		s.power = constant(500, 300, 200)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shelly", s.serveInfo)
	mux.HandleFunc("/rpc/{method}", s.serveRPC)
	s.srv = httpsim.New(httpsim.Options{Name: "shelly sim"}, mux)
	return s
}

func constant(a, b, c float64) func(time.Time) [3]float64 {
	return func(time.Time) [3]float64 { return [3]float64{a, b, c} }
}

// Start serves on addr (port 0 picks one) until ctx ends or Close.
func (s *Simulator) Start(ctx context.Context, addr string) error {
	if err := s.srv.Start(ctx, addr); err != nil {
		return err
	}
	s.log.Info("simulator listening", "addr", s.Addr(), "auth", s.cfg.Password != "")
	return nil
}

// Addr is the address the simulator listens on.
func (s *Simulator) Addr() string { return s.srv.Addr() }

// Close stops serving; hanging requests end.
func (s *Simulator) Close() error { return s.srv.Close() }

// SetPower makes the phases draw constant powers, W (negative: export).
func (s *Simulator) SetPower(a, b, c float64) {
	s.mu.Lock()
	s.power = constant(a, b, c)
	s.mu.Unlock()
}

// SetFault makes every RPC answer show f.
func (s *Simulator) SetFault(f Fault) { s.mu.Lock(); s.fault = f; s.mu.Unlock() }

// Requests is how many requests reached path ("/rpc/EM.GetStatus"),
// refused ones included.
func (s *Simulator) Requests(path string) int { return s.srv.RequestsTo(path) }

func (s *Simulator) serveInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.cfg.DeviceID, "mac": strings.ToUpper(strings.TrimPrefix(s.cfg.DeviceID, "shellypro3em-")),
		"model": "SPEM-003CEBEU", "gen": 2, "app": "Pro3EM", "ver": "1.4.4",
		"auth_en": s.cfg.Password != "", "auth_domain": s.cfg.DeviceID,
	})
}

func (s *Simulator) serveRPC(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	s.srv.Count(r.URL.Path)
	s.mu.Lock()
	fault := s.fault
	authorized := s.authorized(r)
	s.mu.Unlock()
	if !authorized {
		s.challenge(w)
		return
	}
	if id := r.URL.Query().Get("id"); id != "0" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": -105, "message": fmt.Sprintf("Argument 'id', value %s not found!", id)})
		return
	}
	if f, ok := httpFaults[fault]; ok && s.srv.Inject(w, r, f, replies) {
		return
	}
	s.mu.Lock()
	em, data := s.status(time.Now())
	s.mu.Unlock()
	switch {
	case method == "EM.GetStatus":
		if fault == FaultMeterFailure {
			em["errors"] = []string{"power_meter_failure"}
		}
		writeJSON(w, http.StatusOK, em)
	case method == "EMData.GetStatus" && fault == FaultNoEnergy:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": -1, "message": "energy data unavailable"})
	case method == "EMData.GetStatus":
		writeJSON(w, http.StatusOK, data)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "No handler for " + method})
	}
}

// status builds both replies and moves the counters on; s.mu is held.
func (s *Simulator) status(now time.Time) (em, data map[string]any) {
	p := s.power(now)
	total := p[0] + p[1] + p[2]
	if dt := now.Sub(s.last).Hours(); dt > 0 {
		if total > 0 {
			s.importWh += total * dt
		} else {
			s.exportWh -= total * dt
		}
		s.last = now
	}
	round := func(v float64, digits int) float64 { f := math.Pow10(digits); return math.Round(v*f) / f }
	em = map[string]any{"id": 0, "n_current": nil, "user_calibrated_phase": []string{}}
	totalA := 0.0
	for i, ph := range []string{"a", "b", "c"} {
		v := s.cfg.Voltage + float64(i)/2
		a := math.Abs(p[i]) / v
		totalA += a
		pf := 0.95
		if p[i] < 0 {
			pf = -pf
		}
		em[ph+"_current"], em[ph+"_voltage"], em[ph+"_act_power"] = round(a, 3), round(v, 1), round(p[i], 1)
		em[ph+"_aprt_power"], em[ph+"_pf"], em[ph+"_freq"] = round(math.Abs(p[i])/0.95, 1), pf, 50.0
	}
	em["total_current"], em["total_act_power"] = round(totalA, 3), round(total, 3)
	em["total_aprt_power"] = round(math.Abs(total)/0.95, 3)
	data = map[string]any{"id": 0, "total_act": round(s.importWh, 2), "total_act_ret": round(s.exportWh, 2)}
	return em, data
}

// authorized checks a digest Authorization header; s.mu is held.
func (s *Simulator) authorized(r *http.Request) bool {
	if s.cfg.Password == "" {
		return true
	}
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return false
	}
	p := parseParams(rest)
	last, known := s.nonces[p["nonce"]]
	nc, err := strconv.ParseUint(p["nc"], 16, 32)
	if !known || err != nil || nc <= last || p["username"] != authUser || p["realm"] != s.cfg.DeviceID ||
		p["uri"] != r.URL.RequestURI() || p["qop"] != "auth" {
		return false
	}
	c := challenge{realm: s.cfg.DeviceID, nonce: p["nonce"], algorithm: "SHA-256", qop: true}
	if p["response"] != digestResponse(c, authUser, s.cfg.Password, r.Method, p["uri"], p["nc"], p["cnonce"]) {
		return false
	}
	if s.cfg.SingleUseNonce {
		delete(s.nonces, p["nonce"])
	} else {
		s.nonces[p["nonce"]] = nc
	}
	return true
}

// challenge answers 401 with a fresh nonce.
func (s *Simulator) challenge(w http.ResponseWriter) {
	var buf [12]byte
	_, _ = rand.Read(buf[:])
	nonce := hex.EncodeToString(buf[:])
	s.mu.Lock()
	s.nonces[nonce] = 0
	s.mu.Unlock()
	w.Header().Set("WWW-Authenticate",
		fmt.Sprintf(`Digest qop="auth", realm=%q, nonce=%q, algorithm=SHA-256`, s.cfg.DeviceID, nonce))
	writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "unauthorized"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// runSimulator serves `evbridge sim shelly_pro3em`: a house of 1 kW or
// so whose PV on phase A exports at midday, a day every ten minutes.
func runSimulator(ctx context.Context, addr string, ready func(bound string)) error {
	start := time.Now()
	s := NewSimulator(SimConfig{Logger: slog.Default(), ImportWh: 4_321_000, ExportWh: 1_234_000,
		Power: func(now time.Time) [3]float64 {
			t := now.Sub(start).Seconds()
			pv := math.Max(0, 4500*math.Sin(2*math.Pi*t/600))
			return [3]float64{350 + 150*math.Sin(2*math.Pi*t/53) - pv, 300, 250}
		}})
	return httpsim.Serve(ctx, addr, ready, s)
}
