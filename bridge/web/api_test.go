package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
)

func TestReadRoutes(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()

	var list []bridge.ChargerView
	do(t, "GET", e.url+"/api/v1/chargers", nil).json(t, &list)
	if len(list) != 1 || list[0].ID != "garage" || !list[0].Capabilities.SetCurrent || list[0].State.Serial != "012345" {
		t.Fatalf("chargers: %+v", list)
	}
	var one bridge.ChargerView
	r := do(t, "GET", e.url+"/api/v1/chargers/garage", nil)
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("charger: %d %v", r.status, r.header)
	}
	r.json(t, &one)
	if one.ID != "garage" || one.State.CurrentLimit == nil || one.Capabilities.MaxCurrent != 16 {
		t.Errorf("charger: %+v", one)
	}
	do(t, "GET", e.url+"/api/v1/chargers/nosuch", nil).problem(t, 404, `no charger "nosuch"`)

	var site map[string]any
	do(t, "GET", e.url+"/api/v1/site", nil).json(t, &site)
	if site["enabled"] != false || site["decided"] != false {
		t.Errorf("site without a controller: %v", site)
	}
	var pending []bridge.Candidate
	do(t, "GET", e.url+"/api/v1/discovered", nil).json(t, &pending)
	if pending == nil || len(pending) != 0 {
		t.Errorf("discovered: %v", pending)
	}
	var health map[string]any
	do(t, "GET", e.url+"/api/v1/health", nil).json(t, &health)
	if health["mqtt_connected"] != true || health["ready"] != true || !strings.HasPrefix(health["broker"].(string), "tcp://127.0.0.1:") {
		t.Errorf("health: %v", health)
	}
	if ch := health["chargers"].([]any); len(ch) != 1 || ch[0].(map[string]any)["available"] != true {
		t.Errorf("health chargers: %v", health["chargers"])
	}
	if r := do(t, "GET", e.url+"/healthz", nil); r.status != 200 || !strings.Contains(string(r.body), "alive") {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", e.url+"/readyz", nil); r.status != 200 {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
	metrics := do(t, "GET", e.url+"/metrics", nil)
	for _, want := range []string{`evbridge_charger_power_watts{charger="garage"}`, "evbridge_mqtt_connected 1",
		`evbridge_charger_poll_duration_seconds_count{charger="garage"}`, `evbridge_charger_poll_errors_total{charger="garage"} 0`,
		`evbridge_charger_status{charger="garage",status="charging"}`, `evbridge_build_info{version="test"} 1`} {
		if metrics.status != 200 || !strings.Contains(string(metrics.body), want) {
			t.Errorf("/metrics (%d) lacks %s", metrics.status, want)
		}
	}
	var doc map[string]any
	do(t, "GET", e.url+"/api/v1/openapi.json", nil).json(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi: %v", doc["openapi"])
	}
}

func TestPageAndAssets(t *testing.T) {
	e := startEnv(t, envOptions{})
	r := do(t, "GET", e.url+"/", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), `src="./assets/app.js"`) {
		t.Fatalf("index: %d %v %.200s", r.status, r.header, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP: %q", csp)
	}
	// The transport asks for gzip by itself and decompresses.
	js := do(t, "GET", e.url+"/assets/app.js", nil)
	if js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(js.body), "EventSource") {
		t.Fatalf("app.js: %d %v", js.status, js.header)
	}
	gz := do(t, "GET", e.url+"/assets/app.js", nil, "Accept-Encoding", "gzip")
	if gz.header.Get("Content-Encoding") != "gzip" || len(gz.body) >= len(js.body) {
		t.Errorf("app.js not gzipped: %v, %d bytes", gz.header, len(gz.body))
	}
	if r := do(t, "GET", e.url+"/assets/app.js", nil, "If-None-Match", js.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("revalidation: %d", r.status)
	}
	do(t, "GET", e.url+"/assets/nosuch.js", nil).problem(t, 404, `no asset "nosuch.js"`)
	do(t, "GET", e.url+"/assets/index.html", nil).problem(t, 404, "no asset")
	do(t, "GET", e.url+"/nosuch", nil).problem(t, 404, "no such resource: /nosuch")
	p := do(t, "DELETE", e.url+"/api/v1/chargers", nil).problem(t, 405, "DELETE is not allowed")
	_ = p
}

func TestCommandReachesCharger(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	r := post(t, cmdURL(e, "garage"), `{"current_limit":10}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("command: %d %s", r.status, r.body)
	}
	var acc struct {
		Charger  string
		Accepted bridge.Command
	}
	r.json(t, &acc)
	if acc.Charger != "garage" || acc.Accepted.CurrentLimit == nil || *acc.Accepted.CurrentLimit != 10 {
		t.Errorf("accepted: %s", r.body)
	}
	waitFor(t, "amp=10 on the simulator", func() bool { return e.sim.Snapshot().Amp == 10 })
	// A string number, as MQTT accepts it, and several fields at once.
	if r := post(t, cmdURL(e, "garage"), `{"current_limit":"12","enabled":false}`); r.status != http.StatusAccepted {
		t.Fatalf("command: %d %s", r.status, r.body)
	}
	waitFor(t, "amp=12, forced off", func() bool { s := e.sim.Snapshot(); return s.Amp == 12 && s.Frc == 1 })
}

func TestCommandErrors(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	url := cmdURL(e, "garage")
	cases := []struct {
		name, body string
		status     int
		detail     string
		errors     int
	}{
		{"truncated JSON", `{"current_limit":`, 400, "invalid JSON", 0},
		{"not an object", `[10]`, 400, "expected a JSON object", 0},
		{"empty body", ``, 400, "empty payload", 0},
		{"empty object", `{}`, 400, "empty object", 0},
		{"wrong type bool", `{"enabled":"maybe"}`, 400, "enabled: expected true or false", 0},
		{"wrong type number", `{"current_limit":[1]}`, 400, "current_limit: expected a number", 0},
		{"wrong type string", `{"mode":3}`, 400, "mode: expected a string", 0},
		{"unknown field", `{"amps":10}`, 400, `unknown field "amps"`, 0},
		{"two wrong fields", `{"enabled":"x","phases":2}`, 400, "phases: expected 1 or 3", 2},
		{"above max_current", `{"current_limit":20}`, 422, "above this charger's max_current of 16 A", 0},
		{"below minimum", `{"current_limit":2}`, 422, "below the minimum of 6 A", 0},
		{"not a step", `{"current_limit":7.5}`, 422, "not a multiple", 0},
		{"mode without controller", `{"mode":"pv"}`, 422, "solar controller, which is off", 0},
		{"bigger than a command", `{"current_limit":10,"x":"` + strings.Repeat("a", 5000) + `"}`, 400, "a command is at most 4096", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := post(t, url, c.body).problem(t, c.status, c.detail)
			if len(p.Errors) != c.errors {
				t.Errorf("errors %q, want %d", p.Errors, c.errors)
			}
		})
	}
	t.Run("unknown charger", func(t *testing.T) {
		post(t, cmdURL(e, "nosuch"), `{"current_limit":10}`).problem(t, 404, `no charger "nosuch"`)
	})
	t.Run("oversized body", func(t *testing.T) {
		post(t, url, `{"x":"`+strings.Repeat("a", 20<<10)+`"}`).problem(t, 413, "at most 16384")
	})
	t.Run("oversized chunked body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(`{"x":"` + strings.Repeat("a", 20<<10) + `"}`))
			_ = pw.Close()
		}()
		do(t, "POST", url, io.Reader(pr), "Content-Type", "application/json").problem(t, 413, "larger than 16384")
	})
	t.Run("no content type", func(t *testing.T) {
		do(t, "POST", url, `{"current_limit":10}`).problem(t, 415, `Content-Type must be application/json, got ""`)
	})
	t.Run("form post", func(t *testing.T) {
		do(t, "POST", url, `current_limit=10`, "Content-Type", "application/x-www-form-urlencoded").problem(t, 415, "application/json")
	})
	t.Run("text/plain", func(t *testing.T) {
		do(t, "POST", url, `{"current_limit":10}`, "Content-Type", "text/plain").problem(t, 415, "text/plain")
	})
	if s := e.sim.Snapshot(); s.Amp == 7 || s.Amp == 20 || s.Amp == 2 {
		t.Errorf("a refused command reached the charger: amp=%d", s.Amp)
	}
}

// A command refused over HTTP is refused with the same words as over
// MQTT, and is reported on the same error topic: one code path.
func TestCommandSameAsMQTT(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	sub := bridgetest.Subscribe(t, e.mqtt.URL(), "evbridge/garage/error")
	sub.Publish("evbridge/garage/set", false, `{"current_limit":20}`)
	viaMQTT := sub.WaitFor("evbridge/garage/error", wait, func(m bridgetest.Message) bool { return strings.Contains(string(m.Payload), `"source":"set"`) })
	var mqttErr map[string]string
	if err := json.Unmarshal(viaMQTT.Payload, &mqttErr); err != nil {
		t.Fatal(err)
	}
	p := post(t, cmdURL(e, "garage"), `{"current_limit":20}`).problem(t, 422, "max_current")
	if p.Detail != mqttErr["error"] {
		t.Errorf("HTTP says %q, MQTT said %q", p.Detail, mqttErr["error"])
	}
	viaHTTP := sub.WaitFor("evbridge/garage/error", wait, func(m bridgetest.Message) bool { return strings.Contains(string(m.Payload), `"source":"http"`) })
	if !strings.Contains(string(viaHTTP.Payload), "max_current") {
		t.Errorf("HTTP refusal on MQTT: %s", viaHTTP.Payload)
	}
}

func TestModeWithController(t *testing.T) {
	e := startEnv(t, envOptions{site: true})
	e.waitPolled()
	waitFor(t, "the controller's first decision", func() bool { _, ok := e.b.Site(); return ok })
	var site map[string]any
	do(t, "GET", e.url+"/api/v1/site", nil).json(t, &site)
	st, _ := site["state"].(map[string]any)
	if site["enabled"] != true || st == nil || st["grid_power"] != 500.0 {
		t.Fatalf("site: %v", site)
	}
	if r := post(t, cmdURL(e, "garage"), `{"mode":"off"}`); r.status != http.StatusAccepted {
		t.Fatalf("mode: %d %s", r.status, r.body)
	}
	waitFor(t, "mode off to stop the charger", func() bool { return e.sim.Snapshot().Frc == 1 })
	if m := do(t, "GET", e.url+"/metrics", nil); !strings.Contains(string(m.body), `evbridge_controller_decisions_total{charger="garage",reason="off"}`) {
		t.Errorf("no controller decision metric: %s", m.body)
	}
	post(t, cmdURL(e, "garage"), `{"mode":"turbo"}`).problem(t, 400, "mode: expected one of off, now")
}

func TestDiscoveredAccept(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	other := startSim(t, e.ctx, "777777")
	e.b.Offer(bridge.Candidate{Driver: "goe", Address: other.Addr(), Serial: "777777", FoundBy: "test"}, false)
	var pending []bridge.Candidate
	do(t, "GET", e.url+"/api/v1/discovered", nil).json(t, &pending)
	if len(pending) != 1 || pending[0].ID != "goe:777777" {
		t.Fatalf("pending: %+v", pending)
	}
	acceptURL := e.url + "/api/v1/discovered/goe%3A777777/accept"
	post(t, acceptURL, `{"name":5}`).problem(t, 400, "name: expected a string, got a JSON number")
	post(t, acceptURL, `{"nom":"x"}`).problem(t, 400, `unknown field "nom"`)
	post(t, acceptURL, `{"name":"Bad Name"}`).problem(t, 422, "Bad Name")
	post(t, acceptURL, `{"name":"garage"}`).problem(t, 422, "already exists")
	post(t, e.url+"/api/v1/discovered/goe%3A1/accept", `{}`).problem(t, 404, `no discovered charger "goe:1"`)
	r := post(t, acceptURL, `{"name":"carport"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"charger":"carport"`) {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", e.url+"/api/v1/chargers/carport", nil); r.status != 200 {
		t.Errorf("accepted charger: %d %s", r.status, r.body)
	}
	do(t, "GET", e.url+"/api/v1/discovered", nil).json(t, &pending)
	if len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
}

func TestNotReady(t *testing.T) {
	dead := "tcp://127.0.0.1:" + itoa(bridgetest.FreePort(t))
	e := startEnv(t, envOptions{broker: dead})
	do(t, "GET", e.url+"/readyz", nil).problem(t, 503, "not connected to the MQTT broker "+dead)
	if r := do(t, "GET", e.url+"/healthz", nil); r.status != 200 {
		t.Errorf("healthz while not ready: %d", r.status)
	}
	var health map[string]any
	do(t, "GET", e.url+"/api/v1/health", nil).json(t, &health)
	if health["ready"] != false || health["status"] != "degraded" {
		t.Errorf("health: %v", health)
	}
}
