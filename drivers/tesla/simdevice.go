package tesla

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// lifetimeBaseWh is the simulated meter's energy before this run.
const lifetimeBaseWh = 386204

// twc is the device's state; the Simulator's mutex guards it.
type twc struct {
	plugged bool
	offered int // A, set by the car or app (never by this API)
	alerts  []string
	booted  time.Time

	// Refreshed once per tick.
	contactor   bool
	state       int
	amps, volts [3]float64
	sessionWh   float64
	totalWh     float64
	sessionS    int
	ticks       uint64
	starts      int
}

// tick is one run of the device logic: offer, read the car's draw.
func (d *twc) tick(cfg SimConfig, car *simcar.Car) {
	phases := 3
	if cfg.SinglePhase {
		phases = 1
	}
	ok := len(d.alerts) == 0 && d.offered >= simcar.MinCurrent
	car.Offer(float64(d.offered), phases, ok)
	r := car.Read()
	was := d.contactor
	d.contactor = r.Charging // the car asked for power: state C
	if d.contactor && !was {
		d.starts++
	}
	switch {
	case len(d.alerts) > 0:
		d.state = 7
	case !r.Plugged:
		d.state = 1
	case r.Full:
		d.state = 8
	case r.Charging && d.offered < cfg.Breaker:
		d.state = 10
	case r.Charging:
		d.state = 11
	case ok:
		d.state = 9 // current offered, waiting for the car to take it
	default:
		d.state = 2
	}
	for i := range 3 {
		d.amps[i] = r.Currents[i]
		d.volts[i] = r.Voltages[i] + 0.1*float64(i)
		if cfg.SinglePhase && i > 0 {
			d.volts[i] = 0
		}
	}
	d.sessionWh = math.Round(r.SessionWh*1000) / 1000
	d.totalWh = r.TotalWh
	if r.Plugged {
		d.sessionS++
	} else {
		d.sessionS = 0
	}
	d.ticks++
}

// SimSnapshot is what the simulated Wall Connector shows now.
type SimSnapshot struct {
	Contactor, Vehicle bool
	EVSEState          int
	Offered            int
	Currents, Voltages [3]float64
	SessionWh          float64
	LifetimeWh         float64
	Alerts             []string
	Uptime             float64 // s
	// Tick counts logic runs; equal ticks mean equal readings.
	Tick uint64
}

func (d *twc) snapshot(now time.Time) SimSnapshot {
	return SimSnapshot{Contactor: d.contactor, Vehicle: d.plugged, EVSEState: d.state, Offered: d.offered,
		Currents: d.amps, Voltages: d.volts, SessionWh: d.sessionWh, LifetimeWh: math.Floor(lifetimeBaseWh + d.totalWh),
		Alerts: slices.Clone(d.alerts), Uptime: math.Floor(now.Sub(d.booted).Seconds()), Tick: d.ticks}
}

func (d *twc) vitals(now time.Time) map[string]any {
	alerts := slices.Clone(d.alerts)
	if alerts == nil {
		alerts = []string{}
	}
	relay, pilotHigh := 0.0, 11.9
	if d.contactor {
		relay = 11.9
	}
	if d.plugged {
		pilotHigh = 8.9
	}
	n := 0.0 // neutral current: what the phases do not cancel
	if d.volts[1] == 0 {
		n = d.amps[0]
	}
	load := d.amps[0] + d.amps[1] + d.amps[2]
	return map[string]any{
		"contactor_closed": d.contactor, "vehicle_connected": d.plugged, "session_s": d.sessionS,
		"grid_v": d.volts[0], "grid_hz": 50.012, "vehicle_current_a": d.amps[0],
		"currentA_a": d.amps[0], "currentB_a": d.amps[1], "currentC_a": d.amps[2], "currentN_a": n,
		"voltageA_v": d.volts[0], "voltageB_v": d.volts[1], "voltageC_v": d.volts[2],
		"relay_coil_v": relay, "pcba_temp_c": math.Round(250+load*4) / 10,
		"handle_temp_c": math.Round(180+load*6) / 10, "mcu_temp_c": math.Round(320+load*3) / 10,
		"uptime_s": math.Floor(now.Sub(d.booted).Seconds()), "input_thermopile_uv": -151, "prox_v": 1.5,
		"pilot_high_v": pilotHigh, "pilot_low_v": -11.9, "session_energy_wh": d.sessionWh,
		"config_status": 5, "evse_state": d.state, "current_alerts": alerts, "evse_not_ready_reasons": []int{},
	}
}

// lifetime is /api/1/lifetime; with nan, the counters some firmware
// cannot fill come as bare nan, which is not JSON.
func (d *twc) lifetime(nan bool) []byte {
	b, _ := json.Marshal(map[string]any{
		"contactor_cycles": 175 + d.starts, "contactor_cycles_loaded": 3, "alert_count": 1603,
		"thermal_foldbacks": 0, "avg_startup_temp": 27.8, "charge_starts": 175 + d.starts,
		"energy_wh": math.Floor(lifetimeBaseWh + d.totalWh), "connector_cycles": 23,
		"uptime_s": 1945056, "charging_time_s": 183022,
	})
	if nan {
		b = bytes.Replace(b, []byte(`"alert_count":1603`), []byte(`"alert_count":nan`), 1)
		b = bytes.Replace(b, []byte(`"avg_startup_temp":27.8`), []byte(`"avg_startup_temp": nan `), 1)
	}
	return b
}

func wifiStatus() map[string]any {
	return map[string]any{
		"wifi_ssid": base64.StdEncoding.EncodeToString([]byte("home")), "wifi_signal_strength": 44,
		"wifi_rssi": -68, "wifi_snr": 18, "wifi_connected": true, "wifi_infra_ip": "192.168.1.50",
		"internet": true, "wifi_mac": "98:ED:5C:12:34:56",
	}
}

// replies are the broken bodies Wall Connectors were seen to send.
var replies = httpsim.Replies{
	Garbage: `{"contactor_closed":true,"vehicle_connected":tr`,
	HTML:    "<!DOCTYPE html><html><body>Wall Connector</body></html>",
}

// handler serves the local API: GET only, no login.
func (s *Simulator) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.srv.Count(req.URL.Path)
		fault := s.srv.Fault()
		if s.srv.Misbehave(w, req, replies) {
			return
		}
		if req.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.mu.Lock()
		var body []byte
		switch req.URL.Path {
		case "/api/1/vitals":
			body, _ = json.Marshal(s.dev.vitals(s.now()))
		case "/api/1/lifetime":
			body = s.dev.lifetime(s.cfg.NaNInLifetime)
		case "/api/1/wifi_status":
			body, _ = json.Marshal(wifiStatus())
		case "/api/1/version":
			body, _ = json.Marshal(map[string]any{"firmware_version": s.cfg.Firmware, "git_branch": "HEAD",
				"part_number": s.cfg.Part, "serial_number": s.cfg.Serial, "web_service": "h3-hermes-prd.sn.tesla.services"})
		}
		s.mu.Unlock()
		if body == nil {
			http.NotFound(w, req)
			return
		}
		if fault == FaultMissingBrace {
			body = bytes.TrimSuffix(body, []byte("}"))
		}
		write(w, body)
	})
}

func write(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
