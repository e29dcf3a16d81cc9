package web_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/web"
)

func TestTokenAuth(t *testing.T) {
	e := startEnv(t, envOptions{http: config.HTTP{Token: "s3cret-token"}})
	e.waitPolled()
	api := e.url + "/api/v1/chargers"
	r := do(t, "GET", api, nil)
	r.problem(t, 401, "authentication required: send Authorization: Bearer")
	if r.header.Get("WWW-Authenticate") != `Bearer realm="evbridge"` {
		t.Errorf("WWW-Authenticate: %q", r.header.Values("WWW-Authenticate"))
	}
	do(t, "GET", api, nil, "Authorization", "Bearer wrong").problem(t, 401, "wrong credentials")
	do(t, "GET", api, nil, "Authorization", "Bearer s3cret-token-and-more").problem(t, 401, "wrong credentials")
	do(t, "GET", api, nil, "Authorization", "Basic czNjcmV0LXRva2Vu").problem(t, 401, "wrong credentials")
	if r := do(t, "GET", api, nil, "Authorization", "Bearer s3cret-token"); r.status != 200 {
		t.Errorf("right token: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/metrics", "/api/v1/health", "/api/v1/site", "/api/v1/discovered", "/api/v1/chargers/garage", "/api/v1/events"} {
		do(t, "GET", e.url+path, nil).problem(t, 401, "authentication required")
	}
	post(t, cmdURL(e, "garage"), `{"current_limit":10}`).problem(t, 401, "authentication required")
	post(t, e.url+"/api/v1/discovered/x/accept", `{}`).problem(t, 401, "authentication required")
	// Probes, the page shell and the API document stay open.
	for _, path := range []string{"/healthz", "/readyz", "/", "/assets/app.js", "/api/v1/openapi.json"} {
		if r := do(t, "GET", e.url+path, nil); r.status != 200 {
			t.Errorf("%s without auth: %d", path, r.status)
		}
	}

	// The page's login: a wrong token, then the right one as a cookie.
	post(t, e.url+"/api/v1/session", `{"token":"nope"}`).problem(t, 401, "wrong credentials")
	post(t, e.url+"/api/v1/session", `{"token":1}`).problem(t, 400, "token: expected a string")
	login := post(t, e.url+"/api/v1/session", `{"token":"s3cret-token"}`)
	if login.status != http.StatusNoContent {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	cookie := login.header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, "s3cret") {
		t.Errorf("session cookie: %q", cookie)
	}
	value, _, _ := strings.Cut(cookie, ";")
	if r := do(t, "GET", api, nil, "Cookie", value); r.status != 200 {
		t.Errorf("with the session cookie: %d %s", r.status, r.body)
	}
	do(t, "GET", api, nil, "Cookie", "evbridge_session=forged").problem(t, 401, "authentication required")
	if r := do(t, "DELETE", e.url+"/api/v1/session", nil); r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d %v", r.status, r.header)
	}
	if r := post(t, cmdURL(e, "garage"), `{"current_limit":9}`, "Authorization", "Bearer s3cret-token"); r.status != http.StatusAccepted {
		t.Errorf("command with token: %d %s", r.status, r.body)
	}
}

func TestBasicAuth(t *testing.T) {
	e := startEnv(t, envOptions{http: config.HTTP{Username: "admin", Password: "pa55word"}})
	r := do(t, "GET", e.url+"/", nil)
	r.problem(t, 401, "HTTP basic auth")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
	}
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	do(t, "GET", e.url+"/api/v1/chargers", nil, "Authorization", basic("admin", "wrong")).problem(t, 401, "wrong credentials")
	do(t, "GET", e.url+"/api/v1/chargers", nil, "Authorization", basic("root", "pa55word")).problem(t, 401, "wrong credentials")
	for _, path := range []string{"/", "/assets/app.css", "/api/v1/chargers", "/metrics"} {
		if r := do(t, "GET", e.url+path, nil, "Authorization", basic("admin", "pa55word")); r.status != 200 {
			t.Errorf("%s with the password: %d %s", path, r.status, r.body)
		}
	}
	post(t, e.url+"/api/v1/session", `{"token":"x"}`).problem(t, 409, "no http.token")
	if _, err := web.New(web.Options{Bridge: e.b, HTTP: config.HTTP{Username: "admin"}}); err == nil {
		t.Error("a user without a password was accepted")
	}
}

func TestCrossSiteRefused(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	url := cmdURL(e, "garage")
	host := strings.TrimPrefix(e.url, "http://")
	post(t, url, `{"current_limit":7}`, "Sec-Fetch-Site", "cross-site").problem(t, 403, "Sec-Fetch-Site: cross-site")
	post(t, url, `{"current_limit":7}`, "Sec-Fetch-Site", "same-site").problem(t, 403, "another site")
	post(t, url, `{"current_limit":7}`, "Origin", "http://evil.example").problem(t, 403, "Origin header http://evil.example is not this server")
	post(t, url, `{"current_limit":7}`, "Origin", "null").problem(t, 403, "not this server")
	do(t, "DELETE", e.url+"/api/v1/session", nil, "Sec-Fetch-Site", "cross-site").problem(t, 403, "cross-site request refused")
	// A simple form post from another site fails on both counts.
	do(t, "POST", url, "current_limit=7", "Content-Type", "text/plain", "Origin", "http://evil.example").problem(t, 403, "cross-site")
	if s := e.sim.Snapshot(); s.Amp == 7 {
		t.Fatal("a cross-site command reached the charger")
	}
	for _, h := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", "http://" + host}, {"Sec-Fetch-Site", "none"}} {
		if r := post(t, url, `{"current_limit":7}`, h...); r.status != http.StatusAccepted {
			t.Errorf("%v: %d %s", h, r.status, r.body)
		}
	}
}

func TestIngress(t *testing.T) {
	e := startEnv(t, envOptions{http: config.HTTP{Ingress: true, Token: "ignored-under-ingress"}})
	// Over loopback we are not the Supervisor.
	do(t, "GET", e.url+"/api/v1/chargers", nil).problem(t, 403, "only Home Assistant's Supervisor (172.30.32.2) may connect, not 127.0.0.1:")
	do(t, "GET", e.url+"/", nil).problem(t, 403, "ingress mode")
	post(t, cmdURL(e, "garage"), `{"current_limit":10}`).problem(t, 403, "Supervisor")
	do(t, "GET", e.url+"/metrics", nil, "X-Forwarded-For", web.SupervisorAddr).problem(t, 403, "Supervisor")
	if r := do(t, "GET", e.url+"/healthz", nil); r.status != 200 {
		t.Errorf("healthz under ingress: %d", r.status)
	}

	// The Supervisor's address, set by a test hook on the request.
	h := e.srv.Handler()
	get := func(path string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = web.SupervisorAddr + ":41234"
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("/api/v1/chargers"); rec.Code != 200 {
		t.Errorf("Supervisor, no token: %d %s", rec.Code, rec.Body)
	}
	rec := get("/", "X-Ingress-Path", "/api/hassio_ingress/AbC-123_x")
	page := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(page, `href="/api/hassio_ingress/AbC-123_x/assets/app.css"`) ||
		!strings.Contains(page, `name="evbridge-base" content="/api/hassio_ingress/AbC-123_x/"`) {
		t.Errorf("ingress page: %d %s", rec.Code, page)
	}
	for _, bad := range []string{`/x"><script>alert(1)</script>`, "//evil.example", "/a/../b", "relative"} {
		if page := get("/", "X-Ingress-Path", bad).Body.String(); !strings.Contains(page, `content="./"`) || strings.Contains(page, "evil") || strings.Contains(page, "<script>alert") {
			t.Errorf("X-Ingress-Path %q was used", bad)
		}
	}
	// With the hook pointing at loopback, a real connection passes.
	web.SetIngressPeer(e.srv, "127.0.0.1")
	if r := do(t, "GET", e.url+"/api/v1/chargers", nil); r.status != 200 {
		t.Errorf("trusted peer: %d %s", r.status, r.body)
	}
}

// panicky is a bridge whose charger list panics.
type panicky struct{ web.Bridge }

func (panicky) Chargers() []bridge.ChargerView { panic("boom") }

func TestPanicBecomes500(t *testing.T) {
	e := startEnv(t, envOptions{wrap: func(b web.Bridge) web.Bridge { return panicky{b} }})
	do(t, "GET", e.url+"/api/v1/chargers", nil).problem(t, 500, "the server failed on this request")
	if r := do(t, "GET", e.url+"/api/v1/chargers/garage", nil); r.status != 200 {
		t.Errorf("after a panic: %d %s", r.status, r.body)
	}
}

func TestExposureWarning(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	b := startEnv(t, envOptions{}).b
	cases := []struct {
		cfg  config.HTTP
		addr net.IP
		warn bool
	}{
		{config.HTTP{}, net.IPv4(192, 0, 2, 7), true},
		{config.HTTP{}, net.IPv4zero, true},
		{config.HTTP{}, net.IPv4(127, 0, 0, 1), false},
		{config.HTTP{}, net.IPv6loopback, false},
		{config.HTTP{Token: "t"}, net.IPv4(192, 0, 2, 7), false},
		{config.HTTP{Username: "u", Password: "p"}, net.IPv4zero, false},
		{config.HTTP{Ingress: true}, net.IPv4zero, false},
	}
	for _, c := range cases {
		logs.Reset()
		srv, err := web.New(web.Options{Bridge: b, HTTP: c.cfg, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		web.WarnIfExposed(srv, &net.TCPAddr{IP: c.addr, Port: 8080})
		if got := strings.Contains(logs.String(), "WITHOUT AUTHENTICATION"); got != c.warn {
			t.Errorf("%+v on %v: warned=%v, want %v: %s", c.cfg, c.addr, got, c.warn, logs.String())
		}
	}
}
