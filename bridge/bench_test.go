package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
)

// BenchmarkSetToDevice measures a `set` published on a real Mosquitto until
// the simulator receives the HTTP write. Run with -benchtime 1000x for the
// p50/p99 in the issue notes.
func BenchmarkSetToDevice(b *testing.B) {
	ctx := bridgetest.Context(b)
	m := bridgetest.StartMosquitto(b)
	sim := startGoe(b, ctx)
	got := make(chan time.Time, 16)
	sim.OnSet(func(key, _ string) {
		if key == "amp" {
			got <- time.Now()
		}
	})
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	c := goeCharger("garage", sim.Addr())
	c.PollInterval = 2 * time.Second // the default: commands must not wait for a poll
	cfg.Chargers = []config.Charger{c}
	pub := bridgetest.Subscribe(b, m.URL(), "evbridge/garage/availability")
	startBridge(b, ctx, cfg)
	pub.WaitFor("evbridge/garage/availability", wait, payloadIs("online"))

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := strconv.Itoa(6 + i%2)
		start := time.Now()
		pub.Publish("evbridge/garage/set/current_limit", false, v)
		select {
		case at := <-got:
			lat = append(lat, at.Sub(start))
		case <-time.After(wait):
			b.Fatalf("command %d (%s A) never reached the simulator", i, v)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkStateToMQTT measures a state change in the simulator until the
// MQTT state message arrives, less the poll wait: from the HTTP poll that
// carried the change to the message at a subscriber.
func BenchmarkStateToMQTT(b *testing.B) {
	ctx := bridgetest.Context(b)
	m := bridgetest.StartMosquitto(b)
	sim := startGoe(b, ctx)
	target, _ := url.Parse("http://" + sim.Addr())
	var mu sync.Mutex
	var polls []time.Time
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		polls = append(polls, time.Now())
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	b.Cleanup(front.Close)

	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	c := goeCharger("garage", front.Listener.Addr().String())
	c.PollInterval = 250 * time.Millisecond
	cfg.Chargers = []config.Charger{c}
	sub := bridgetest.Subscribe(b, m.URL(), "evbridge/garage/state")
	startBridge(b, ctx, cfg)
	sub.WaitFor("evbridge/garage/state", wait, nil)

	lat := make([]time.Duration, 0, b.N)
	plugged := true
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plugged = !plugged
		start := time.Now()
		sim.Plug(plugged)
		msg, ok := sub.WaitForAfter(start, "evbridge/garage/state", wait, stateWhere("plug", plugged))
		if !ok {
			b.Fatalf("change %d never published", i)
		}
		mu.Lock()
		var poll time.Time
		for _, p := range polls {
			if p.Before(msg.At) {
				poll = p
			}
		}
		mu.Unlock()
		lat = append(lat, msg.At.Sub(poll))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
