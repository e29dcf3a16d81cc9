package goe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestDeviceGoneAndBack(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	addr := s.Addr()
	d := newDriver(t, addr, 2*time.Second)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err == nil {
		t.Fatal("poll of a closed device succeeded")
	}
	if err := d.SetEnabled(t.Context(), true); err == nil {
		t.Fatal("set on a closed device succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "the device to come back", func(st charger.State) bool { return st.Serial == "123456" })
}

func TestHang(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	s.SetFault(FaultHang)

	// The caller's context bounds the request.
	d := newDriver(t, s.Addr(), time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := d.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll with a short context: %v, want DeadlineExceeded", err)
	}
	// Settings.Timeout bounds it too.
	d2 := newDriver(t, s.Addr(), 200*time.Millisecond)
	if err := d2.SetCurrent(t.Context(), 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("set with a short timeout: %v, want DeadlineExceeded", err)
	}
	// Close drops requests still hanging.
	arrived := make(chan struct{}, 1)
	s.OnSet(func(string, string) { arrived <- struct{}{} })
	done := make(chan error, 1)
	go func() { done <- d.SetEnabled(t.Context(), true) }()
	<-arrived
	_ = s.Close()
	if err := <-done; err == nil {
		t.Fatal("hung set succeeded after Close")
	}
}

func TestSlowReply(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	s.SetFault(FaultSlow)
	s.SetSlowDelay(50 * time.Millisecond)
	if _, err := newDriver(t, s.Addr(), 5*time.Second).Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
	s.SetSlowDelay(time.Minute)
	if _, err := newDriver(t, s.Addr(), 100*time.Millisecond).Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slower than the timeout: %v, want DeadlineExceeded", err)
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), 2*time.Second)
	for _, c := range []struct {
		fault Fault
		want  string
	}{
		{FaultGarbage, "bad JSON"},
		{FaultHTML, "got HTML"},
		{FaultEmpty, "empty reply"},
	} {
		s.SetFault(c.fault)
		_, err := d.Poll(t.Context())
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: poll %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
		if err := d.SetEnabled(t.Context(), true); !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("fault %d: set %v, want ErrBadReply", c.fault, err)
		}
	}
	s.SetFault(FaultNone)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
}

// filterProxy forwards to the simulator with the status filter rewritten,
// to show the driver models that lack keys.
func filterProxy(t *testing.T, s *Simulator, rewrite func(string) string) string {
	t.Helper()
	target, _ := url.Parse("http://" + s.Addr())
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		q := r.Out.URL.Query()
		q.Set("filter", rewrite(q.Get("filter")))
		r.Out.URL.RawQuery = q.Encode()
	}}
	return startHTTP(t, p)
}

func TestModelsLackingKeys(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	// A key the model lacks: the device answers 400 with the rest.
	d := newDriver(t, filterProxy(t, s, func(f string) string { return f + ",cbl2" }), 2*time.Second)
	st, err := d.Poll(t.Context())
	if err != nil || st.Status != charger.StatusNoVehicle {
		t.Fatalf("400 with the other keys: %v %s", err, dump(st))
	}
	// Optional keys absent: nil, not zero.
	d = newDriver(t, filterProxy(t, s, func(f string) string {
		return strings.Replace(strings.Replace(f, ",rssi", "", 1), ",tma", "", 1)
	}), 2*time.Second)
	st, err = d.Poll(t.Context())
	if err != nil || st.RSSI != nil || st.Temperature != nil {
		t.Fatalf("without rssi and tma: %v %s", err, dump(st))
	}
	// A key the driver cannot do without.
	d = newDriver(t, filterProxy(t, s, func(f string) string { return strings.Replace(f, "car,", "", 1) }), 2*time.Second)
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "missing keys car") {
		t.Fatalf("without car: %v", err)
	}
	// A path the device does not have (API v2 switched off).
	d = newDriver(t, filterProxy(t, s, func(f string) string { return f }), 2*time.Second)
	d.base += "/nothing"
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "http 404") {
		t.Fatalf("404: %v", err)
	}
}

func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}
