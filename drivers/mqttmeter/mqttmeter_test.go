package mqttmeter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
)

// fakeClock is a settable clock, safe for the client's goroutines.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newMeter(t testing.TB, broker string, o Options, clk *fakeClock) *Meter {
	t.Helper()
	if o.Broker == "" {
		o.Broker = broker
	}
	m, err := New(meter.Settings{Name: t.Name(), Timeout: 3 * time.Second}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		m.now = clk.now
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitRead reads until ok accepts the result; it fails the test after a
// generous deadline and never asserts speed.
func waitRead(t testing.TB, m *Meter, what string, ok func(meter.Reading, error) bool) (meter.Reading, error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := m.Read(context.Background())
		if ok(r, err) {
			return r, err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %+v, %v", what, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscribed waits until the meter's subscription is in place.
func subscribed(t testing.TB, m *Meter) {
	t.Helper()
	waitRead(t, m, "subscription", func(_ meter.Reading, err error) bool {
		return err != nil && strings.Contains(err.Error(), "(subscribed)")
	})
}

func powerIs(w float64) func(meter.Reading, error) bool {
	return func(r meter.Reading, err error) bool { return err == nil && r.Power != nil && *r.Power == w }
}

func opts(src Source, more ...Source) Options {
	o := DefaultOptions()
	if src.MaxAge == 0 {
		src.MaxAge = o.MaxAge
	}
	o.Source, o.More = src, more
	return o
}

func TestPlainNumber(t *testing.T) {
	mq := bridgetest.StartMosquitto(t)
	pub := bridgetest.Subscribe(t, mq.URL(), "unused/#")
	clk := newClock()
	m := newMeter(t, mq.URL(), opts(Source{Topic: "home/grid/power"}), clk)
	subscribed(t, m)
	pub.Publish("home/grid/power", false, " -1234.5\n")
	r, _ := waitRead(t, m, "the power", powerIs(-1234.5))
	if !r.Measured.Equal(clk.now()) {
		t.Errorf("measured = %v, want the arrival time %v", r.Measured, clk.now())
	}
	pub.Publish("home/grid/power", false, "unavailable")
	_, err := waitRead(t, m, "the bad payload", func(_ meter.Reading, err error) bool { return err != nil })
	if !strings.Contains(err.Error(), `last payload "unavailable": "unavailable" is not a number`) {
		t.Errorf("err = %v", err)
	}
	pub.Publish("home/grid/power", false, "1e6")
	_, err = waitRead(t, m, "the absurd value", func(_ meter.Reading, err error) bool {
		return err != nil && strings.Contains(err.Error(), "implausible")
	})
	if !strings.Contains(err.Error(), "power 1e+06 W") {
		t.Errorf("err = %v", err)
	}
	pub.Publish("home/grid/power", false, "")
	r, _ = waitRead(t, m, "the cleared value", func(r meter.Reading, err error) bool { return err == nil })
	if r.Power != nil {
		t.Errorf("empty payload: power %v, want none", *r.Power)
	}
}

// With neither a broker option nor an address, the meter reads evbridge's
// own broker, logging in as evbridge does (the add-on's Mosquitto user),
// asked only when it first connects.
func TestLocalBroker(t *testing.T) {
	mq := bridgetest.StartMosquitto(t, bridgetest.MosquittoOptions{Users: map[string]string{"addons": "pw"}})
	pub := bridgetest.SubscribeWith(t, bridgetest.ClientOptions{URL: mq.URL(), Username: "addons", Password: "pw"}, "unused/#")
	asked := 0
	local := func() meter.BrokerLogin {
		asked++
		return meter.BrokerLogin{URL: mq.URL(), Username: "addons", Password: "pw"}
	}
	m, err := New(meter.Settings{Name: "grid", Timeout: 3 * time.Second, LocalBroker: local}, opts(Source{Topic: "home/grid/power"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if asked != 0 {
		t.Fatal("the local broker was asked before the first read")
	}
	subscribed(t, m)
	pub.Publish("home/grid/power", false, "-420")
	waitRead(t, m, "the power from evbridge's own broker", powerIs(-420))
	if asked != 1 {
		t.Errorf("local broker asked %d times, want once", asked)
	}
	// An address still wins over the local broker.
	m2, err := New(meter.Settings{Name: "x", Address: "192.0.2.9", LocalBroker: local}, opts(Source{Topic: "a"}), nil)
	if err != nil || m2.broker != "tcp://192.0.2.9:1883" {
		t.Errorf("broker from the address: %v %v", m2, err)
	}
	m2.Close()
}

func TestJSONSources(t *testing.T) {
	mq := bridgetest.StartMosquitto(t)
	pub := bridgetest.Subscribe(t, mq.URL(), "unused/#")
	o := opts(Source{Topic: "tele/meter/SENSOR", JSONPath: "ENERGY.Power", Scale: -1},
		Source{Topic: "tele/meter/SENSOR", JSONPath: "value_json.ENERGY.Current[0]", Field: "current_l1"},
		Source{Topic: "tele/meter/SENSOR", JSONPath: "ENERGY.Current[1]", Field: "current_l2"},
		Source{Topic: "tele/meter/SENSOR", JSONPath: "ENERGY.Total", Field: "energy_import", Scale: 0.001},
		Source{Topic: "home/battery", JSONPath: "soc", Field: "soc", TimePath: "time"})
	clk := newClock()
	m := newMeter(t, mq.URL(), o, clk)
	subscribed(t, m)
	pub.Publish("tele/meter/SENSOR", false, `{"Time":"x","ENERGY":{"Power":850,"Current":[1.5,2.5,null],"Total":123456}}`)
	_, err := waitRead(t, m, "the first topic", func(_ meter.Reading, err error) bool {
		return err != nil && !strings.Contains(err.Error(), "tele/meter/SENSOR")
	})
	if !strings.Contains(err.Error(), "home/battery: no message yet") {
		t.Errorf("one source silent: err = %v", err)
	}
	stamp := clk.now().Add(-10 * time.Second)
	pub.Publish("home/battery", true, fmt.Sprintf(`{"soc": "81.5", "time": %q}`, stamp.Format(time.RFC3339)))
	r, _ := waitRead(t, m, "all sources", func(_ meter.Reading, err error) bool { return err == nil })
	if r.Power == nil || *r.Power != -850 || !slices.Equal(r.Currents, []float64{1.5, 2.5}) ||
		r.EnergyImport == nil || *r.EnergyImport != 123.456 || r.SoC == nil || *r.SoC != 81.5 {
		t.Errorf("reading = %+v", r)
	}
	if !r.Measured.Equal(stamp) {
		t.Errorf("measured = %v, want the oldest source's time %v", r.Measured, stamp)
	}

	// The battery's message is retained: a new meter gets it at once.
	m2 := newMeter(t, mq.URL(), opts(Source{Topic: "home/battery", JSONPath: "soc", Field: "soc", MaxAge: -1}), nil)
	waitRead(t, m2, "the retained soc", func(r meter.Reading, err error) bool { return err == nil && r.SoC != nil })

	pub.Publish("tele/meter/SENSOR", false, `{"ENERGY":{"Current":[1,2]}}`)
	_, err = waitRead(t, m, "the missing key", func(_ meter.Reading, err error) bool { return err != nil })
	if !strings.Contains(err.Error(), "json_path ENERGY.Power: no such value at ENERGY.Power") {
		t.Errorf("err = %v", err)
	}
}

func TestMaxAge(t *testing.T) {
	mq := bridgetest.StartMosquitto(t)
	pub := bridgetest.Subscribe(t, mq.URL(), "unused/#")
	clk := newClock()
	m := newMeter(t, mq.URL(), opts(Source{Topic: "p", MaxAge: 30 * time.Second}), clk)
	subscribed(t, m)
	pub.Publish("p", false, "100")
	waitRead(t, m, "the value", powerIs(100))
	clk.advance(30 * time.Second)
	if _, err := m.Read(context.Background()); err != nil {
		t.Errorf("at max_age: %v", err)
	}
	clk.advance(time.Second)
	_, err := m.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "last value is 31s old (max_age 30s)") {
		t.Errorf("past max_age: err = %v", err)
	}
	pub.Publish("p", false, "200")
	waitRead(t, m, "a fresh value", powerIs(200))
}

func TestBrokerRestart(t *testing.T) {
	mq := bridgetest.StartMosquitto(t)
	m := newMeter(t, mq.URL(), opts(Source{Topic: "p", MaxAge: -1}), nil)
	pub := bridgetest.Subscribe(t, mq.URL(), "unused/#")
	subscribed(t, m)
	pub.Publish("p", false, "1")
	waitRead(t, m, "the value", powerIs(1))
	mq.Restart()
	// The client reconnects and subscribes again; so does the publisher.
	deadline := time.Now().Add(20 * time.Second)
	for {
		pub.Publish("p", false, "2")
		if r, err := m.Read(context.Background()); err == nil && *r.Power == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no value after the broker restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSimulator(t *testing.T) {
	s := NewSimulator(SimConfig{Interval: 10 * time.Millisecond})
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Only the address: the broker is tcp://address.
	o := opts(Source{Topic: s.Topic("grid/power")},
		Source{Topic: s.Topic("battery/state"), JSONPath: "soc", Field: "soc"})
	m, err := New(meter.Settings{Name: "grid", Address: s.Addr()}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// PV 3000 W, house 800 W: the battery takes 1100 W, 1100 W go out.
	r, _ := waitRead(t, m, "the simulated house", func(r meter.Reading, err error) bool { return err == nil })
	if *r.Power != -1100 || r.SoC == nil || *r.SoC < 50 {
		t.Errorf("reading = %+v", r)
	}

	d, ok := meter.Default.Lookup("mqtt_topic")
	if !ok || !slices.ContainsFunc(charger.Simulators(), func(s charger.Simulator) bool { return s.Name == "mqtt_topic" }) {
		t.Fatal("driver or simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- runSimulator(ctx, "127.0.0.1:0", func(a string) { ready <- a }) }()
	addr := <-ready
	dopts := d.NewOptions().(*Options)
	dopts.Topic = "evbridge-sim/grid/power"
	dm, err := d.New(meter.Settings{Name: "sim", Address: addr}, dopts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.(meter.Closer).Close()
	waitRead(t, dm.(*Meter), "the default simulator", func(r meter.Reading, err error) bool { return err == nil && r.Power != nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []struct {
		want string
		o    Options
	}{
		{"topic is empty", opts(Source{})},
		{"has a wildcard", opts(Source{Topic: "a/+/b"})},
		{"is not one of", opts(Source{Topic: "a", Field: "watts"})},
		{"filled twice", opts(Source{Topic: "a"}, Source{Topic: "b"})},
		{"current_l2 given without current_l1", opts(Source{Topic: "a"}, Source{Topic: "b", Field: "current_l2"})},
		{"needs a JSON payload", opts(Source{Topic: "a", TimePath: "t"})},
		{"json_path", opts(Source{Topic: "a", JSONPath: "a..b"})},
		{"is not a broker URL", Options{Broker: "http://x:1883", Source: Source{Topic: "a"}}},
		{"is not a broker URL", Options{Broker: "tcp://", Source: Source{Topic: "a"}}},
	}
	for _, c := range bad {
		if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.o, err, c.want)
		}
	}
	if _, err := New(meter.Settings{}, opts(Source{Topic: "a"}), nil); err == nil || !strings.Contains(err.Error(), "broker") {
		t.Errorf("no broker, no address: err = %v", err)
	}
	m, err := New(meter.Settings{Name: "x", Address: "192.0.2.9"}, opts(Source{Topic: "a"}), nil)
	if err != nil || m.broker != "tcp://192.0.2.9:1883" {
		t.Errorf("broker from the address: %v %v", m, err)
	}
	m.Close()
	if _, err := m.Read(context.Background()); err == nil {
		t.Error("read after close succeeded")
	}
}

// FuzzPayload: any payload parses or errs without panicking, for plain
// and JSON sources alike.
func FuzzPayload(f *testing.F) {
	o := opts(Source{Topic: "a"}, Source{Topic: "a", JSONPath: "ENERGY.Power[1]", Field: "soc", TimePath: "Time"})
	srcs, err := o.compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("1234.5"))
	f.Add([]byte(`{"ENERGY":{"Power":[1,"2"]},"Time":"2024-06-01T12:00:00Z"}`))
	f.Add([]byte(`{"ENERGY":{"Power":[1,null]},"Time":1717236000}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, s := range srcs {
			v, err := s.parse(payload)
			if err == nil && v.ok && (v.v != v.v) {
				t.Fatalf("NaN from %q", payload)
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	mq := bridgetest.StartMosquitto(b)
	pub := bridgetest.Subscribe(b, mq.URL(), "unused/#")
	m := newMeter(b, mq.URL(), opts(Source{Topic: "p", MaxAge: -1}, Source{Topic: "s", Field: "soc", MaxAge: -1}), nil)
	subscribed(b, m)
	pub.Publish("p", true, "500")
	pub.Publish("s", true, "50")
	waitRead(b, m, "values", func(_ meter.Reading, err error) bool { return err == nil })
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
