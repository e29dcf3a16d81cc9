package modbustest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
)

// Driver is what the shared tests need of a Modbus charger driver.
type Driver interface {
	Poll(ctx context.Context) (charger.State, error)
	SetCurrent(ctx context.Context, amps float64) error
}

// Sim is what the shared tests need of a simulator: the harness's fault
// injection and counters (every simulator embeds modbussim.Server).
type Sim interface {
	Addr() string
	Busy(n int)
	Drop(n int)
	Delay(d time.Duration)
	Counters() modbussim.Counters
	Masters() int
}

// Fixture is how one driver package sets up the shared tests.
type Fixture[S Sim, D Driver] struct {
	// Start starts a simulator in its default configuration.
	Start func(t testing.TB) S
	// Driver connects the package's usual test driver (3 s timeout).
	Driver func(t testing.TB, s S) D
	// Dial connects a driver with default options and the given timeout
	// on a pool of its own; it is closed at the end of the test.
	Dial func(t testing.TB, addr string, timeout time.Duration) D
}

// Poll polls c and fails the test on an error.
func Poll[D Driver](t testing.TB, c D) charger.State {
	t.Helper()
	st, err := c.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// DroppedMidRead: a connection dropped once is retried on a new
// connection (the device sees conns connections in all); dropped on the
// retry too, the poll fails with a lost connection whose message
// contains where, then recovers. It returns the simulator and driver for
// the package's own checks.
func DroppedMidRead[S Sim, D Driver](t *testing.T, f Fixture[S, D], conns int, where string) (S, D) {
	t.Helper()
	s := f.Start(t)
	c := f.Driver(t, s)
	Poll(t, c)
	s.Drop(1)
	Poll(t, c)
	if m := s.Masters(); m != conns {
		t.Fatalf("device saw %d connections, want %d", m, conns)
	}
	s.Drop(2)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrConnection) || !strings.Contains(err.Error(), where) {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	WaitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
	return s, c
}

// DeviceBusy: a "device busy" exception fails a poll and a current
// write as modbusx.ErrDeviceBusy, and the next poll passes. It returns
// the simulator and driver for the package's own checks.
func DeviceBusy[S Sim, D Driver](t *testing.T, f Fixture[S, D]) (S, D) {
	t.Helper()
	s := f.Start(t)
	c := f.Driver(t, s)
	s.Busy(1)
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("err = %v, want device busy", err)
	}
	Poll(t, c)
	s.Busy(1)
	if err := c.SetCurrent(context.Background(), 10); !errors.Is(err, modbusx.ErrDeviceBusy) {
		t.Fatalf("write err = %v, want device busy", err)
	}
	return s, c
}

// SlowDevice: a slow answer within the timeout passes; one beyond it
// fails as modbusx.ErrTimeout, and the driver recovers once the device
// is quick again. whileSlow, if set, runs the package's own checks on
// the impatient driver while the device is too slow for it.
func SlowDevice[S Sim, D Driver](t *testing.T, f Fixture[S, D], whileSlow func(D)) {
	t.Helper()
	s := f.Start(t)
	c := f.Driver(t, s) // 3 s timeout
	s.Delay(100 * time.Millisecond)
	Poll(t, c) // slow but within the timeout
	impatient := f.Dial(t, s.Addr(), 50*time.Millisecond)
	s.Delay(time.Second)
	if _, err := impatient.Poll(context.Background()); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if whileSlow != nil {
		whileSlow(impatient)
	}
	s.Delay(0)
	WaitFor(t, "recovery", func() bool { _, err := impatient.Poll(context.Background()); return err == nil })
}

// RequestsPerPoll checks that poll i costs want[i] requests (the last
// entry repeats for polls after it): the register plan is what keeps a
// LAN device from being flooded.
func RequestsPerPoll[D Driver](t *testing.T, s Sim, c D, polls int, want ...uint64) {
	t.Helper()
	perPoll(t, s, c, polls, want, func(n modbussim.Counters) uint64 { return n.Requests })
}

// ReadsPerPoll is RequestsPerPoll counting reads only, for drivers
// whose polls may write (a watchdog refresh).
func ReadsPerPoll[D Driver](t *testing.T, s Sim, c D, polls int, want ...uint64) {
	t.Helper()
	perPoll(t, s, c, polls, want, func(n modbussim.Counters) uint64 { return n.Reads })
}

func perPoll[D Driver](t *testing.T, s Sim, c D, polls int, want []uint64, count func(modbussim.Counters) uint64) {
	t.Helper()
	for i := range polls {
		w := want[min(i, len(want)-1)]
		before := count(s.Counters())
		Poll(t, c)
		if n := count(s.Counters()) - before; n != w {
			t.Fatalf("poll %d took %d requests, want %d", i, n, w)
		}
	}
}

// Peer is a misbehaving peer and the error a poll of it must give.
type Peer struct {
	Name, Addr string
	Want       error
}

// BadPeers polls each peer with a short timeout: the error must be
// peer.Want and start with prefix, the driver's name, so that a user
// sees which charger failed.
func BadPeers[D Driver](t *testing.T, dial func(t testing.TB, addr string, timeout time.Duration) D, prefix string, peers ...Peer) {
	t.Helper()
	for _, p := range peers {
		c := dial(t, p.Addr, 300*time.Millisecond)
		_, err := c.Poll(context.Background())
		if !errors.Is(err, p.Want) || !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("%s: err = %v, want %v", p.Name, err, p.Want)
		}
	}
}

// ModbusTCPPeers are the bad peers every Modbus TCP driver meets: a
// port that never answers, a non-Modbus service and a reply with the
// wrong word count.
func ModbusTCPPeers(t testing.TB) []Peer {
	return []Peer{
		{"port that never answers", FakeServer(t, Silent), modbusx.ErrTimeout},
		{"non-Modbus service", FakeServer(t, NotModbus), charger.ErrBadReply},
		{"wrong word count", FakeServer(t, AnswerFC3(7)), charger.ErrBadReply},
	}
}

// SimulatorRuns runs the simulator registered as name the way `evbridge
// sim` does and checks that a driver sees a car on it, then that it
// stops when its context ends.
func SimulatorRuns[D Driver](t *testing.T, name string, dial func(t testing.TB, addr string, timeout time.Duration) D) {
	t.Helper()
	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == name {
			sim = s
		}
	}
	if sim.Run == nil {
		t.Fatalf("%s simulator not registered", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	c := dial(t, <-bound, 3*time.Second)
	if st := Poll(t, c); st.Status == charger.StatusNoVehicle || st.Status == charger.StatusUnknown {
		t.Errorf("standalone simulator has no car: %s", st.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Pluggable is a simulator with a car to plug in.
type Pluggable interface {
	Sim
	Plug(plugged bool)
}

// BenchmarkPoll polls a simulated station with a car plugged in over
// loopback and reports the requests one poll takes, after warmup polls
// (a driver's first polls may read identity or turn standby off).
func BenchmarkPoll[S Pluggable, D Driver](b *testing.B, f Fixture[S, D], warmup int) {
	s := f.Start(b)
	s.Plug(true)
	c := f.Driver(b, s)
	ctx := context.Background()
	for range warmup {
		Poll(b, c)
	}
	before := s.Counters().Requests
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Counters().Requests-before)/float64(b.N), "req/poll")
}
