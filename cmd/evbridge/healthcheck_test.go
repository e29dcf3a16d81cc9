package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/sick", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broker disconnected", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/healthz", http.StatusFound) })
	mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/healthz"
	l.Close()

	cases := []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: []string{"--url", srv.URL + "/healthz"}, code: 0, out: "healthy: " + srv.URL},
		{args: []string{"--url", srv.URL + "/sick"}, code: 1, err: "unhealthy: GET " + srv.URL + "/sick answered 503 Service Unavailable: broker disconnected"},
		{args: []string{"--url", srv.URL + "/moved"}, code: 1, err: "answered 302"},
		{args: []string{"--url", srv.URL + "/nope"}, code: 1, err: "answered 404"},
		{args: []string{"--url", srv.URL + "/hang", "--timeout", "50ms"}, code: 1, err: "deadline exceeded"},
		{args: []string{"--url", closed}, code: 1, err: "connection refused"},
		{args: []string{"--url", "::bad"}, code: 1, err: "bad URL"},
		{args: []string{"extra"}, code: 2, err: `unexpected argument "extra"`},
	}
	for _, c := range cases {
		code, out, errOut := run(t, append([]string{"healthcheck"}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("healthcheck %v: exit %d, stdout %q, stderr %q; want %d, ~%q, ~%q", c.args, code, out, errOut, c.code, c.out, c.err)
		}
	}

	t.Setenv(healthURLEnv, srv.URL+"/sick")
	if code, _, errOut := run(t, "healthcheck"); code != 1 || !strings.Contains(errOut, "/sick") {
		t.Errorf("$%s not used: exit %d, %s", healthURLEnv, code, errOut)
	}
}

func TestHealthURL(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		flag string
		env  func(string) string
		want string
	}{
		{"", env(), "http://127.0.0.1:8080/healthz"},
		{"", env("SUPERVISOR_TOKEN", "t"), "http://127.0.0.1:8099/healthz"},
		{"", env("SUPERVISOR_TOKEN", "t", healthURLEnv, "http://127.0.0.1:9/healthz"), "http://127.0.0.1:9/healthz"},
		{"http://x/healthz", env(healthURLEnv, "http://y/healthz"), "http://x/healthz"},
	}
	for _, c := range cases {
		if got := healthURL(c.flag, c.env); got != c.want {
			t.Errorf("healthURL(%q) = %s, want %s", c.flag, got, c.want)
		}
	}
}
