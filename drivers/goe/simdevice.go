package goe

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// phaseSwitchPause is how long a phase switch stops charging. The real box
// waits a configurable time (app "phase switch duration", 10–3600 s per
// API-v2 issue #58); the simulator keeps it short for demos and tests.
const phaseSwitchPause = 3 * time.Second

// etoBase is the simulated box's lifetime energy before this run, Wh.
const etoBase = 1234567

// Model status codes (apikeys-en.md modelStatus) the simulator produces.
const (
	msForceOn         = 3
	msForceOff        = 4
	msFallbackDefault = 15
	msPhaseSwitch     = 23
)

// device is the box's state; the Simulator's mutex guards it.
type device struct {
	// Settings, written by /api/set and shown at once.
	amp, ama, frc, psm int
	flashAmp           int // amp as stored in flash (v1's amx leaves it)
	fna                string
	maxAmp             int // variant's hardware limit
	plugged            bool

	// Logic results, written by tick.
	alw         bool
	acu, car    int
	modelStatus int
	pnp         int
	switchUntil time.Time
	nrg         [16]float64
	wh, eto     float64
	tma         []float64
	ticks       uint64
	booted      time.Time
}

func newDevice(cfg SimConfig) device {
	hw := 16
	if cfg.Variant == 22 {
		hw = 32
	}
	return device{amp: hw, flashAmp: hw, ama: hw, maxAmp: hw, fna: "go-eCharger", booted: cfg.Car.Now()}
}

// tick is one run of the box's charging logic (once per second).
func (d *device) tick(now time.Time, car *simcar.Car) {
	want := 3 // psm 0 (auto) has no PV data here, so it stays on 3 phases
	if d.psm == 1 {
		want = 1
	}
	if d.pnp != 0 && want != d.pnp {
		d.switchUntil = now.Add(phaseSwitchPause)
	}
	d.pnp = want
	switching := now.Before(d.switchUntil)
	d.alw = d.frc != 1 && !switching
	switch {
	case switching:
		d.modelStatus = msPhaseSwitch
	case d.frc == 1:
		d.modelStatus = msForceOff
	case d.frc == 2:
		d.modelStatus = msForceOn
	default:
		d.modelStatus = msFallbackDefault
	}
	d.acu = 0
	if d.alw {
		// amp above ama is kept but the box offers no more than ama.
		d.acu = min(d.amp, d.ama)
	}
	car.Offer(float64(d.acu), d.pnp, d.alw)
	r := car.Read()
	switch {
	case !r.Plugged:
		d.car = 1
	case r.Full:
		d.car = 4
	case r.Charging:
		d.car = 2
	default:
		d.car = 3
	}
	d.nrg = [16]float64{}
	for i := 0; i < 3; i++ {
		d.nrg[i] = r.Voltages[i]
		d.nrg[4+i] = r.Currents[i]
		d.nrg[7+i] = math.Round(r.Voltages[i] * r.Currents[i])
		if r.Currents[i] > 0 {
			d.nrg[12+i] = 99
		}
	}
	d.nrg[11] = r.Power
	d.wh = r.SessionWh
	d.eto = math.Floor(etoBase + r.TotalWh)
	d.tma = []float64{math.Round(240+r.Power/200) / 10, math.Round(220+r.Power/250) / 10}
	d.ticks++
}

// values is the full key set /api/status shows.
func (d *device) values(cfg SimConfig, now time.Time) map[string]any {
	var trx, cbl any
	if d.car != 1 {
		trx, cbl = 0, 32
	}
	return map[string]any{
		"acu": d.acu, "alw": d.alw, "ama": d.ama, "amp": d.amp, "car": d.car, "cbl": cbl,
		"err": 0, "eto": d.eto, "frc": d.frc, "fna": d.fna, "fsp": d.pnp == 1,
		"fwv": cfg.Firmware, "mca": simcar.MinCurrent, "modelStatus": d.modelStatus,
		"nrg": slices.Clone(d.nrg[:]), "oem": "go-e", "pnp": d.pnp, "psm": d.psm,
		"rbt": now.Sub(d.booted).Milliseconds(), "rssi": -58, "sse": cfg.Serial,
		"tma": slices.Clone(d.tma), "trx": trx, "typ": "go-eCharger", "var": cfg.Variant, "wh": d.wh,
	}
}

func (d *device) snapshot(cfg SimConfig, now time.Time) SimSnapshot {
	return SimSnapshot{
		Amp: d.amp, AmpFlash: d.flashAmp, Ama: d.ama, Frc: d.frc, Psm: d.psm, Fna: d.fna,
		Alw: d.alw, Acu: d.acu, Car: d.car, ModelStatus: d.modelStatus, Pnp: d.pnp,
		Nrg: d.nrg, Power: d.nrg[11], Currents: [3]float64(d.nrg[4:7]),
		Voltages: [3]float64(d.nrg[0:3]), Wh: d.wh, Eto: d.eto, Rssi: -58,
		Tma: slices.Clone(d.tma), Serial: cfg.Serial, Firmware: cfg.Firmware,
		Typ: "go-eCharger", Variant: cfg.Variant, Plugged: d.plugged,
		PhaseSwitching: now.Before(d.switchUntil), Tick: d.ticks,
	}
}

// set applies one /api/set key; the error text is what the reply carries.
func (d *device) set(key, value string) error {
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return fmt.Errorf("%s: could not parse json value (%s)", key, value)
	}
	setInt := func(dst *int, lo, hi int) error {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: expected an integer (%s)", key, value)
		}
		if f < float64(lo) || f > float64(hi) {
			// The real box words it "Value 5 exceeds range 6 to 32"
			// (evcc-io/evcc#15952).
			return fmt.Errorf("%s: failed: value %s exceeds range %d to %d", key, value, lo, hi)
		}
		*dst = int(f)
		return nil
	}
	switch key {
	case "amp":
		if err := setInt(&d.amp, simcar.MinCurrent, 32); err != nil {
			return err
		}
		d.flashAmp = d.amp
		return nil
	case "ama":
		return setInt(&d.ama, simcar.MinCurrent, d.maxAmp)
	case "frc":
		return setInt(&d.frc, 0, 2)
	case "psm":
		return setInt(&d.psm, 0, 2)
	case "fna":
		s, ok := v.(string)
		if !ok || len(s) > 32 {
			return fmt.Errorf("%s: expected a string of at most 32 bytes (%s)", key, value)
		}
		d.fna = s
		return nil
	}
	if _, known := d.values(SimConfig{}, time.Time{})[key]; known {
		return fmt.Errorf("%s: tried to set api key without setter (%s)", key, value)
	}
	return fmt.Errorf("%s: unknown api key", key)
}

// replies are the broken bodies go-e boxes were seen to send.
var replies = httpsim.Replies{
	Garbage: `{"car":2,"alw":true,"nrg":[231,230,2`,
	HTML:    "<!DOCTYPE html><html><body><h1>go-eCharger</h1></body></html>",
}

// handler serves the device's HTTP API.
func (s *Simulator) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.mu.Lock()
		onSet, api := s.onSet, s.cfg.API
		s.mu.Unlock()
		s.srv.Count(req.URL.Path)
		if fault := s.srv.Fault(); fault != FaultNone && fault != FaultSlow && onSet != nil {
			// A hung or broken reply still lets the test see what arrived.
			for _, kv := range setPairs(req, api) {
				onSet(kv[0], kv[1])
			}
		}
		if s.srv.Misbehave(w, req, replies) {
			return
		}
		switch {
		case api == 1 && req.URL.Path == "/status":
			s.serveStatusV1(w)
		case api == 1 && req.URL.Path == "/mqtt":
			s.serveSetV1(w, req, onSet)
		case api == 2 && req.URL.Path == "/api/status":
			s.serveStatus(w, req)
		case api == 2 && req.URL.Path == "/api/set":
			s.serveSet(w, req, onSet)
		default:
			http.Error(w, "Nothing matches the given URI", http.StatusNotFound)
		}
	})
}

// serveStatus answers /api/status. Filter keys the device does not have are
// left out and the reply becomes 400 with the JSON of the rest, as real
// boxes do (API-v2 issue #312).
func (s *Simulator) serveStatus(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	all := s.dev.values(s.cfg, s.now())
	s.mu.Unlock()
	out, code := all, http.StatusOK
	if f := req.URL.Query().Get("filter"); f != "" {
		out = map[string]any{}
		for _, k := range strings.Split(f, ",") {
			if v, ok := all[strings.TrimSpace(k)]; ok {
				out[strings.TrimSpace(k)] = v
			} else {
				code = http.StatusBadRequest
			}
		}
	}
	writeJSON(w, code, out)
}

// serveSet answers /api/set: true or an error string per key; 500 when any
// key failed (evcc-io/evcc#15952, API-v2 issue #30). Settings show in status
// at once; their effect follows at the next logic tick.
func (s *Simulator) serveSet(w http.ResponseWriter, req *http.Request, onSet func(k, v string)) {
	q := req.URL.Query()
	out, code := map[string]any{}, http.StatusOK
	for _, k := range sortedKeys(req) {
		v := q.Get(k)
		if onSet != nil {
			onSet(k, v)
		}
		s.mu.Lock()
		err := s.dev.set(k, v)
		s.mu.Unlock()
		if err != nil {
			out[k], code = err.Error(), http.StatusInternalServerError
		} else {
			out[k] = true
		}
	}
	writeJSON(w, code, out)
}

func sortedKeys(req *http.Request) []string {
	keys := make([]string, 0, 4)
	for k := range req.URL.Query() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
