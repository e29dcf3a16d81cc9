package keba

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/drivertest"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// quickCar reacts fast so tests that wait for the car stay short; nothing
// asserts on how fast.
var quickCar = simcar.Config{Delay: 200 * time.Millisecond, Tau: 100 * time.Millisecond}

// testLocal is the local address every test driver shares, as every KEBA
// driver of a process shares one socket: a free port on 127.0.0.1.
const testLocal = "127.0.0.1:0"

// fast spaces commands little and allows repeats at once, so polls always
// ask the station; rate-limit tests use their own timing.
var fast = timing{udp: 5 * time.Millisecond, dis: 40 * time.Millisecond}

var lastIP atomic.Uint32

// nextIP is a loopback address no other simulator of this test binary uses,
// since the shared socket tells stations apart by IP.
func nextIP() string {
	n := lastIP.Add(1)
	return fmt.Sprintf("127.0.%d.%d", n/200, n%200+2)
}

// sharedPort binds the shared test socket (holding a reference for the
// test's lifetime) and returns its port, where simulators must answer.
func sharedPort(t testing.TB) int {
	t.Helper()
	c := sockets.acquire(testLocal, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { sockets.release(c) })
	a, err := c.localAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a.(*net.UDPAddr).Port
}

// startSim starts a simulator on a fresh loopback IP answering to the
// shared test socket, with the given spacing rules.
func startSim(t testing.TB, cfg SimConfig, tm timing) *Simulator {
	t.Helper()
	cfg.ReplyPort = sharedPort(t)
	s := NewSimulator(cfg)
	s.t, s.tick = tm, 50*time.Millisecond
	if err := s.Start(t.Context(), nextIP()+":0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testOptions() *Options {
	o := DefaultOptions()
	o.LocalIP, o.LocalPort = "127.0.0.1", 0
	return o
}

// newDriver drives s with the same spacing rules s enforces.
func newDriver(t testing.TB, s *Simulator, o *Options, timeout time.Duration) *Driver {
	t.Helper()
	if o == nil {
		o = testOptions()
	}
	d, err := New(charger.Settings{Name: "test", Address: s.Addr(), Timeout: timeout, MaxCurrent: 32}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.t = s.t
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// eventually polls until cond holds; the deadline only catches a hang.
func eventually(t testing.TB, what string, cond func() (bool, any)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last seen: %s", what, dump(last))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dump(v any) string { return drivertest.Dump(v) }

func pollUntil(t testing.TB, d *Driver, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	eventually(t, what, func() (bool, any) {
		var err error
		st, err = d.Poll(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return cond(st), st
	})
	return st
}

// consistentPoll polls between two equal snapshots, so the reading and the
// snapshot describe the same tick.
func consistentPoll(t *testing.T, s *Simulator, d *Driver) (charger.State, SimSnapshot) {
	return drivertest.ConsistentPoll(t, s.Snapshot, d.Poll)
}

// recorder collects the commands a simulator took.
type recorder struct {
	mu   sync.Mutex
	cmds []string
}

func (r *recorder) add(cmd string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, cmd)
}

// settings are the recorded commands other than reports.
func (r *recorder) settings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		if !isReport(c) {
			out = append(out, c)
		}
	}
	return slices.Clone(out)
}

// fakeClock drives a simulator's station logic and car by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func kWh(tenthWh int64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(tenthWh)/10000, 'f', 4, 64), 64)
	return v
}
