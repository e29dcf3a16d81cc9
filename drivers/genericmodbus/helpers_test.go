package genericmodbus

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// recorder is a Modbus TCP proxy that records every request frame it
// passes on, so tests can compare exactly what two drivers sent.
type recorder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frames []frame
}

// frame is one request: unit id and PDU (function code first).
type frame struct {
	Unit byte
	PDU  string
}

func (f frame) fc() byte { return f.PDU[0] }

func (f frame) String() string { return fmt.Sprintf("unit %d % x", f.Unit, []byte(f.PDU)) }

func startRecorder(t testing.TB, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *recorder) Addr() string { return r.ln.Addr().String() }

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	hdr := make([]byte, 7)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6]))
		if n < 2 {
			return
		}
		pdu := make([]byte, n-1)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return
		}
		r.mu.Lock()
		r.frames = append(r.frames, frame{Unit: hdr[6], PDU: string(pdu)})
		r.mu.Unlock()
		if _, err := s.Write(append(hdr, pdu...)); err != nil {
			return
		}
	}
}

// take returns the frames recorded since the last take.
func (r *recorder) take() []frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

// writes keeps the write requests (FC6, FC16) of fs.
func writes(fs []frame) []frame {
	var out []frame
	for _, f := range fs {
		if f.fc() == 6 || f.fc() == 16 {
			out = append(out, f)
		}
	}
	return out
}

// fakeClock drives the simulated cars, so that two simulators fed the
// same commands hold the same registers.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func testPool(t testing.TB) *modbusx.Pool {
	p := modbusx.NewPool(modbusx.PoolConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	return p
}

// diffState names every field of charger.State where a and b differ;
// floats may differ by rounding (1e-9 relative). skip names fields to
// leave out.
func diffState(a, b charger.State, skip ...string) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		name := va.Type().Field(i).Name
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == name
		}
		if !skipped && !sameValue(va.Field(i), vb.Field(i)) {
			out = append(out, fmt.Sprintf("%s: %v != %v", name, show(va.Field(i)), show(vb.Field(i))))
		}
	}
	return out
}

func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x))
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func show(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "nil"
		}
		return v.Elem().Interface()
	}
	return v.Interface()
}

// waitFor polls cond with a generous deadline; it never asserts speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
