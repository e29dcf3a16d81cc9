package generichttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/goe"
)

func newGoeDriver(t testing.TB, addr string, timeout time.Duration) charger.Charger {
	t.Helper()
	c, err := New(charger.Settings{Name: "test", Address: addr, Timeout: timeout, MaxCurrent: 16},
		&Options{Builtin: "goe"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.(charger.Closer).Close() })
	return c
}

func TestDeviceGoneAndBack(t *testing.T) {
	t.Parallel()
	s := startGoe(t, goe.SimConfig{Serial: "424242"})
	addr := s.Addr()
	d := newGoeDriver(t, addr, 2*time.Second)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := d.Poll(t.Context()); err == nil {
		t.Fatal("poll of a closed charger succeeded")
	}
	if err := d.(charger.Enabler).SetEnabled(t.Context(), true); err == nil {
		t.Fatal("set on a closed charger succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the charger to come back", func() (bool, any) {
		st, err := d.Poll(t.Context())
		return err == nil && st.Serial == "424242", err
	})
}

func TestHangAndSlow(t *testing.T) {
	t.Parallel()
	s := startGoe(t, goe.SimConfig{})
	s.SetFault(goe.FaultHang)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	if _, err := newGoeDriver(t, s.Addr(), time.Minute).Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung charger, short context: %v", err)
	}
	if err := newGoeDriver(t, s.Addr(), 150*time.Millisecond).(charger.Enabler).SetEnabled(t.Context(), true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung charger, short timeout: %v", err)
	}
	s.SetFault(goe.FaultSlow)
	s.SetSlowDelay(30 * time.Millisecond)
	if _, err := newGoeDriver(t, s.Addr(), 5*time.Second).Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
	s.SetSlowDelay(time.Minute)
	if _, err := newGoeDriver(t, s.Addr(), 100*time.Millisecond).Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slower than the timeout: %v", err)
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	s := startGoe(t, goe.SimConfig{})
	d := newGoeDriver(t, s.Addr(), 2*time.Second)
	for _, c := range []struct {
		fault goe.Fault
		want  string
	}{
		{goe.FaultGarbage, "bad JSON"},
		{goe.FaultHTML, "got HTML"},
		{goe.FaultEmpty, "empty reply"},
	} {
		s.SetFault(c.fault)
		_, err := d.Poll(t.Context())
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: poll %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
		if err := d.(charger.Enabler).SetEnabled(t.Context(), true); !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("fault %d: set %v, want ErrBadReply", c.fault, err)
		}
	}
	s.SetFault(goe.FaultNone)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
}

// A reply missing a key a required field reads is a bad reply naming the
// field; an optional one is unknown.
func TestMissingValues(t *testing.T) {
	t.Parallel()
	var body atomic.Pointer[string]
	set := func(s string) { body.Store(&s) }
	set(`{"car":1,"alw":true,"frc":0,"amp":16,"nrg":[230,230,230,0,0,0,0,0,0,0,0,0,0,0,0,0],"wh":0,"eto":5}`)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(*body.Load())) })
	d := newGoeDriver(t, srv, time.Second)
	st, err := d.Poll(t.Context())
	if err != nil || st.RSSI != nil || st.Temperature != nil || st.Serial != "" || st.Phases != nil || *st.EnergyTotal != 0.005 {
		t.Fatalf("optional keys absent: %v %s", err, dump(st))
	}
	set(strings.Replace(*body.Load(), `"amp":16,`, ``, 1))
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "state.current_limit: no value at amp") {
		t.Fatalf("required key absent: %v", err)
	}
	set(`{"car":1,"alw":true,"frc":0,"amp":"lots","nrg":[],"wh":0,"eto":5}`)
	_, err = d.Poll(t.Context())
	for _, want := range []string{`state.current_limit: "lots" is not a number`, `state.power: no value at nrg[11]`} {
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), want) {
			t.Errorf("bad values: %v, want it to mention %q", err, want)
		}
	}
}

// min_interval: polls in between use the last reply and send nothing.
func TestMinInterval(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(`{"s":"C"}`))
	})
	o := &Options{Definition: Definition{
		Requests: map[string]*Request{"r": {Path: "/s", MinInterval: time.Hour}},
		State:    StateFields{Status: &Field{Path: "s"}},
	}}
	c, err := New(charger.Settings{Address: srv}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if st, err := c.Poll(t.Context()); err != nil || st.Status != charger.StatusCharging {
			t.Fatalf("poll: %v %s", err, dump(st))
		}
	}
	if n.Load() != 1 {
		t.Fatalf("%d requests in three polls within min_interval, want 1", n.Load())
	}
}

func serve(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}
