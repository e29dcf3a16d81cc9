package bridgetest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Message is one MQTT message a Subscriber received.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
	At       time.Time
}

// Subscriber is an MQTT client that records everything it receives on a
// topic filter, for asserting on what the bridge published.
type Subscriber struct {
	t      testing.TB
	client paho.Client
	url    string

	mu     sync.Mutex
	msgs   []Message
	latest map[string]Message
	cond   chan struct{} // closed and replaced on every message
}

// ClientOptions are how a test client connects.
type ClientOptions struct {
	URL                string
	Username, Password string
	// CAFile verifies a TLS broker.
	CAFile string
}

// Subscribe connects to brokerURL and subscribes to filter (e.g. "#").
func Subscribe(t testing.TB, brokerURL, filter string) *Subscriber {
	t.Helper()
	return SubscribeWith(t, ClientOptions{URL: brokerURL}, filter)
}

// SubscribeWith is Subscribe with credentials or TLS.
func SubscribeWith(t testing.TB, co ClientOptions, filter string) *Subscriber {
	t.Helper()
	brokerURL := co.URL
	s := &Subscriber{t: t, url: brokerURL, latest: map[string]Message{}, cond: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(brokerURL).SetUsername(co.Username).SetPassword(co.Password).
		SetClientID(fmt.Sprintf("test-sub-%d", time.Now().UnixNano())).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetOrderMatters(true)
	if co.CAFile != "" {
		pemData, err := os.ReadFile(co.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemData)
		opts.SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	subscribed := make(chan struct{}, 1)
	opts.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
			s.record(Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), Retained: m.Retained(), At: time.Now()})
		}).WaitTimeout(5 * time.Second)
		select {
		case subscribed <- struct{}{}:
		default:
		}
	})
	s.client = paho.NewClient(opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber: connect %s: %v", brokerURL, tok.Error())
	}
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatalf("test subscriber: subscribe %s timed out", filter)
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

func (s *Subscriber) record(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.latest[m.Topic] = m
	close(s.cond)
	s.cond = make(chan struct{})
	s.mu.Unlock()
}

// Publish sends a message from the test (a command, a birth message).
func (s *Subscriber) Publish(topic string, retain bool, payload string) {
	s.t.Helper()
	tok := s.client.Publish(topic, 1, retain, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		s.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// Latest returns the last message on topic.
func (s *Subscriber) Latest(topic string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.latest[topic]
	return m, ok
}

// All returns every message received so far, in order.
func (s *Subscriber) All() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Since returns the messages received at or after t whose topic has prefix.
func (s *Subscriber) Since(t time.Time, prefix string) []Message {
	var out []Message
	for _, m := range s.All() {
		if !m.At.Before(t) && strings.HasPrefix(m.Topic, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor waits until a message on topic satisfies ok (nil: any message)
// and returns it; it fails the test after timeout. Messages already
// received count.
func (s *Subscriber) WaitFor(topic string, timeout time.Duration, ok func(Message) bool) Message {
	s.t.Helper()
	m, found := s.WaitForAfter(time.Time{}, topic, timeout, ok)
	if !found {
		last, _ := s.Latest(topic)
		s.t.Fatalf("no matching message on %s within %v; last: %q", topic, timeout, last.Payload)
	}
	return m
}

// WaitForAfter is WaitFor counting only messages received at or after since;
// it reports false instead of failing.
func (s *Subscriber) WaitForAfter(since time.Time, topic string, timeout time.Duration, ok func(Message) bool) (Message, bool) {
	deadline := time.After(timeout)
	seen := 0
	for {
		s.mu.Lock()
		msgs := s.msgs[seen:]
		seen = len(s.msgs)
		wait := s.cond
		s.mu.Unlock()
		for _, m := range msgs {
			if m.Topic == topic && !m.At.Before(since) && (ok == nil || ok(m)) {
				return m, true
			}
		}
		select {
		case <-wait:
		case <-deadline:
			return Message{}, false
		}
	}
}

// URL is the broker the subscriber is connected to.
func (s *Subscriber) URL() string { return s.url }
