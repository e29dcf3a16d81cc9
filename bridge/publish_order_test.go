package bridge

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/ha"
)

// A discovery config built from an older reading must not reach the broker
// after one built from a newer reading: the retained config would stay
// stale (a device without its serial, say) while the bridge believes it
// current. Seen in a loaded test run: onConnect's announce, built before
// the first poll, landed after the first poll's announce.
func TestDiscoveryPublishedInBuildOrder(t *testing.T) {
	m := bridgetest.StartMosquitto(t)
	cfg := config.Default()
	cfg.Discovery.MDNS = false
	cfg.MQTT.Broker = m.URL()
	b, err := New(Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(bridgetest.Context(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	sub := bridgetest.Subscribe(t, m.URL(), "evbridge/bridge/state")
	sub.WaitFor("evbridge/bridge/state", 10*time.Second, func(m bridgetest.Message) bool { return string(m.Payload) == "online" })

	const topic = "homeassistant/device/order_test/config"
	msg := func(p string) ha.Message { return ha.Message{Topic: topic, Payload: []byte(p), Retain: true, QoS: 1} }
	olderBuilt, release := make(chan struct{}), make(chan struct{})
	olderDone := make(chan struct{})
	go func() {
		defer close(olderDone)
		b.send(func() (ha.Message, bool) {
			close(olderBuilt)
			<-release // published late, as a slow goroutine would
			return msg(`{"v":"older"}`), true
		}, true)
	}()
	<-olderBuilt
	newerDone := make(chan struct{})
	go func() {
		defer close(newerDone)
		b.send(func() (ha.Message, bool) { return msg(`{"v":"newer"}`), true }, true)
	}()
	// Give the newer send time to overtake, which it may only do if
	// building and publishing are not one step.
	select {
	case <-newerDone:
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	<-olderDone
	<-newerDone

	fresh := bridgetest.Subscribe(t, m.URL(), topic)
	got := fresh.WaitFor(topic, 10*time.Second, nil)
	if string(got.Payload) != `{"v":"newer"}` {
		t.Errorf("retained config is %s; the newer one was built last and must be published last", got.Payload)
	}
}
