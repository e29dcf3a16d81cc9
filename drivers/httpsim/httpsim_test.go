package httpsim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

var testReplies = Replies{Garbage: `{"a":1,"b":`, HTML: "<html>device</html>"}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	var s *Server
	s = New(opts, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.Count(req.Method + " " + req.URL.Path)
		if s.Misbehave(w, req, testReplies) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func get(t *testing.T, s *Server, timeout time.Duration) (*http.Response, string, error) {
	t.Helper()
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + s.Addr() + "/x")
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestFaults(t *testing.T) {
	s := newTestServer(t, Options{Name: "test sim"})
	for _, c := range []struct {
		fault     Fault
		body, typ string
	}{
		{FaultNone, `{"ok":true}`, "application/json"},
		{FaultGarbage, testReplies.Garbage, "application/json"},
		{FaultHTML, testReplies.HTML, "text/html"},
		{FaultEmpty, "", "application/json"},
		{FaultSlow + 1, `{"ok":true}`, "application/json"}, // a device's own: left to the handler
	} {
		s.SetFault(c.fault)
		resp, body, err := get(t, s, 2*time.Second)
		if err != nil || resp.StatusCode != 200 || body != c.body || resp.Header.Get("Content-Type") != c.typ {
			t.Errorf("fault %d: %v %v %q, want 200 %q (%s)", c.fault, resp, err, body, c.body, c.typ)
		}
	}
	if got := s.RequestsTo("GET /x"); got != 5 {
		t.Errorf("RequestsTo = %d, want 5", got)
	}
	if got := s.Requests(); got["GET /x"] != 5 || len(got) != 1 {
		t.Errorf("Requests = %v", got)
	}
}

func TestUnlabelled(t *testing.T) {
	var s *Server
	s = New(Options{Name: "test sim"}, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.Inject(w, req, FaultGarbage, Replies{Garbage: "{", Unlabelled: true})
	}))
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, body, err := get(t, s, 2*time.Second)
	if err != nil || body != "{" || resp.Header.Get("Content-Type") == "application/json" {
		t.Errorf("unlabelled garbage: %v %q %v", err, body, resp.Header)
	}
}

func TestSlow(t *testing.T) {
	s := newTestServer(t, Options{Name: "test sim"})
	s.SetFault(FaultSlow)
	s.SetSlowDelay(200 * time.Millisecond)
	start := time.Now()
	if _, body, err := get(t, s, 2*time.Second); err != nil || body != `{"ok":true}` {
		t.Fatalf("slow: %q %v", body, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("slow reply after %v, want ≥ 200ms", d)
	}
	s.SetSlowDelay(time.Hour)
	if _, _, err := get(t, s, 100*time.Millisecond); err == nil {
		t.Error("slow reply within the client's timeout")
	}
}

func TestHangEndsAtClose(t *testing.T) {
	s := newTestServer(t, Options{Name: "test sim"})
	s.SetFault(FaultHang)
	errc := make(chan error, 1)
	go func() { _, _, err := get(t, s, 10*time.Second); errc <- err }()
	for s.RequestsTo("GET /x") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("hung request answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a hung request", d)
	}
}

func TestRestartSameAddress(t *testing.T) {
	s := newTestServer(t, Options{Name: "test sim"})
	addr := s.Addr()
	if err := s.Start(t.Context(), "127.0.0.1:0"); err == nil || err.Error() != "test sim: already started" {
		t.Errorf("second Start: %v", err)
	}
	done := s.Running()
	if done == nil {
		t.Fatal("Running: nil while running")
	}
	_ = s.Close()
	_ = s.Close() // twice is fine
	select {
	case <-done:
	default:
		t.Error("Running's channel open after Close")
	}
	if s.Running() != nil || s.Addr() != addr {
		t.Errorf("after Close: running %v, addr %q want %q", s.Running(), s.Addr(), addr)
	}
	if _, _, err := get(t, s, time.Second); err == nil {
		t.Error("answered while closed")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	if _, body, err := get(t, s, 2*time.Second); err != nil || body != `{"ok":true}` {
		t.Errorf("after restart: %q %v", body, err)
	}
}

func TestTickAndContext(t *testing.T) {
	var ticks atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	s := New(Options{Name: "test sim", Tick: 10 * time.Millisecond, OnTick: func() { ticks.Add(1) }},
		http.NotFoundHandler())
	if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	for ticks.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	running := s.Running()
	cancel()
	<-running // the run ends with its context
	_ = s.Close()
	n := ticks.Load()
	time.Sleep(50 * time.Millisecond)
	if ticks.Load() != n {
		t.Error("ticks after the run ended")
	}
}

func TestListenError(t *testing.T) {
	s := New(Options{Name: "test sim"}, http.NotFoundHandler())
	if err := s.Start(t.Context(), "256.0.0.1:0"); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
	if s.Running() != nil {
		t.Error("running after a failed Start")
	}
}

type fakeSim struct {
	started, closed bool
	startErr        error
}

func (f *fakeSim) Start(context.Context, string) error { f.started = true; return f.startErr }
func (f *fakeSim) Addr() string                        { return "127.0.0.1:1234" }
func (f *fakeSim) Close() error                        { f.closed = true; return nil }

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeSim{}
	var bound string
	cancel()
	if err := Serve(ctx, "x", func(b string) { bound = b }, f); err != nil || !f.started || !f.closed ||
		bound != "127.0.0.1:1234" {
		t.Errorf("Serve: %v %+v %q", err, f, bound)
	}
	bad := errors.New("busy")
	f = &fakeSim{startErr: bad}
	if err := Serve(t.Context(), "x", nil, f); !errors.Is(err, bad) || f.closed {
		t.Errorf("Serve with a failing Start: %v %+v", err, f)
	}
}
