package goe

import (
	"context"
	"github.com/evbridge/evbridge/drivers/httpsim"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func init() {
	charger.RegisterSimulator(charger.Simulator{
		Name:  "goe_v1",
		Title: "go-e Charger (HTTP API v1), with a car plugged in",
		Run: func(ctx context.Context, addr string, ready func(bound string)) error {
			return runSim(ctx, addr, ready, SimConfig{Plugged: true, API: 1})
		},
	})
}

// valuesV1 is the /status object of API v1: every value a string except
// nrg, an array of integers, as in the document's example. Units: nrg
// currents 0.1 A, powers 0.1 kW (total 0.01 kW); dws deka-watt-seconds;
// eto 0.1 kWh; tmp °C.
func (d *device) valuesV1(cfg SimConfig, now time.Time) map[string]any {
	itoa := strconv.Itoa
	nrg := make([]int, 16)
	for i := 0; i < 4; i++ {
		nrg[i] = int(math.Round(d.nrg[i]))
	}
	for i := 4; i < 7; i++ {
		nrg[i] = int(math.Round(d.nrg[i] * 10))
	}
	for i := 7; i < 11; i++ {
		nrg[i] = int(math.Round(d.nrg[i] / 100))
	}
	nrg[11] = int(math.Round(d.nrg[11] / 10))
	for i := 12; i < 16; i++ {
		nrg[i] = int(d.nrg[i])
	}
	// pha: three phases before the contactor; after it while the box
	// offers current.
	pha := 0b111000
	if d.acu > 0 && d.car != 1 {
		pha |= 0b001
		if d.pnp == 3 {
			pha |= 0b111
		}
	}
	cbl := "0"
	if d.car != 1 {
		cbl = "32"
	}
	alw := "1"
	if d.frc == 1 {
		alw = "0"
	}
	return map[string]any{
		"version": "B", "rbc": "7", "rbt": strconv.FormatInt(now.Sub(d.booted).Milliseconds(), 10),
		"car": itoa(d.car), "amp": itoa(d.amp), "amx": itoa(d.amp), "err": "0", "ast": "0", "alw": alw,
		"stp": "0", "cbl": cbl, "pha": itoa(pha), "tmp": itoa(int(math.Round(slices.Max(d.tma)))),
		"dws": strconv.FormatInt(int64(math.Round(d.wh*360)), 10), "dwo": "0", "adi": "0", "uby": "0",
		"eto": strconv.FormatInt(int64(d.eto/100), 10), "wst": "3", "nrg": nrg, "fwv": cfg.Firmware,
		"sse": cfg.Serial, "wss": "home", "wke": "********", "wen": "1", "tof": "101", "tds": "1",
		"lbr": "255", "ama": itoa(d.ama), "al1": "6", "al2": "10", "al3": "16", "al4": "0", "al5": "0",
		"r1x": "1", "nmo": "0",
	}
}

// setV1 applies one API v1 command. Like the real box it has no error
// reply: a key it cannot set or a value out of range leaves the status
// unchanged, which is how a client tells.
func (d *device) setV1(key, value string) {
	v, err := strconv.Atoi(value)
	if err != nil {
		return
	}
	in := func(lo, hi int) bool { return v >= lo && v <= hi }
	switch {
	case key == "amp" && in(simcar.MinCurrent, 32):
		d.amp, d.flashAmp = v, v
	case key == "amx" && in(simcar.MinCurrent, 32):
		d.amp = v // not written to flash: Reboot restores flashAmp
	case key == "alw" && in(0, 1):
		d.frc = 1 - v // alw=0 stops the box as frc=1 does in v2
	case key == "ama" && in(simcar.MinCurrent, d.maxAmp):
		d.ama = v
	}
}

func (s *Simulator) serveStatusV1(w http.ResponseWriter) {
	s.mu.Lock()
	v := s.dev.valuesV1(s.cfg, s.now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// serveSetV1 answers /mqtt?payload=key=value with the whole status, the
// change already applied (API v1 document, "Return values").
func (s *Simulator) serveSetV1(w http.ResponseWriter, req *http.Request, onSet func(k, v string)) {
	pairs := setPairs(req, 1)
	if len(pairs) == 0 {
		http.Error(w, "payload missing", http.StatusBadRequest)
		return
	}
	k, v := pairs[0][0], pairs[0][1]
	if onSet != nil {
		onSet(k, v)
	}
	s.mu.Lock()
	s.dev.setV1(k, v)
	out := s.dev.valuesV1(s.cfg, s.now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// setPairs lists the key=value pairs a set request carries: the query of
// /api/set (v2, sorted by key) or the one payload of /mqtt (v1).
func setPairs(req *http.Request, api int) [][2]string {
	switch {
	case api == 2 && req.URL.Path == "/api/set":
		var out [][2]string
		for _, k := range sortedKeys(req) {
			out = append(out, [2]string{k, req.URL.Query().Get(k)})
		}
		return out
	case api == 1 && req.URL.Path == "/mqtt":
		if k, v, ok := strings.Cut(req.URL.Query().Get("payload"), "="); ok && k != "" {
			return [][2]string{{k, v}}
		}
	}
	return nil
}

// runSim serves one simulated charger until ctx ends; it backs
// `evbridge sim goe` and `evbridge sim goe_v1`. Like the real box it
// announces itself over mDNS when reachable from a network.
func runSim(ctx context.Context, addr string, ready func(bound string), cfg SimConfig) error {
	return httpsim.Serve(ctx, addr, ready, NewSimulator(cfg))
}
