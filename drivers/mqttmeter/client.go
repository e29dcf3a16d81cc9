package mqttmeter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/evbridge/evbridge/bridge/meter"
)

// state is what arrived last on one source.
type state struct {
	val     value
	at      time.Time // arrival, or the payload's time stamp
	seen    bool      // some message arrived
	err     error     // the last payload was unusable
	payload string    // its start, for messages
}

// Meter assembles a reading from the last message of each source. It
// is safe for concurrent use.
type Meter struct {
	sources []*source
	// dial makes the client at the first read: the broker may be
	// evbridge's own, known only once the daemon has started.
	dial    func() paho.Client
	log     *slog.Logger
	now     func() time.Time
	connect sync.Once
	closed  atomic.Bool

	mu     sync.Mutex
	broker string // the broker URL, "" until dialled when it is evbridge's own
	client paho.Client
	states []state
	up     bool  // connected and subscribed
	lost   error // why the connection went, if it did
}

// safeID replaces what a client id should not hold with _.
func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, s)
}

// New builds the driver; it does no I/O (the first Read connects).
func New(s meter.Settings, o Options, log *slog.Logger) (*Meter, error) {
	sources, err := o.compile()
	if err != nil {
		return nil, err
	}
	login := meter.BrokerLogin{URL: o.Broker, Username: o.Username, Password: o.Password}
	var local func() meter.BrokerLogin
	if login.URL == "" {
		host := strings.TrimSpace(s.Address)
		switch {
		case host != "":
			if _, _, err := net.SplitHostPort(host); err != nil {
				host = net.JoinHostPort(strings.Trim(host, "[]"), "1883")
			}
			login.URL = "tcp://" + host
		case s.LocalBroker != nil:
			// evbridge's own broker: where Home Assistant's values are
			// usually published (mqtt_statestream) and the add-on's
			// Mosquitto login is known.
			local = s.LocalBroker
		default:
			return nil, errors.New("mqtt_topic: set the broker option or the meter's address")
		}
	}
	id := o.ClientID
	if id == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = "evbridge-meter-" + safeID(s.Name) + "-" + hex.EncodeToString(b[:])
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	m := &Meter{broker: login.URL, sources: sources, now: time.Now, states: make([]state, len(sources)),
		log: log.With("driver", "mqtt_topic", "meter", s.Name)}
	m.dial = func() paho.Client {
		if local != nil {
			login = local()
			m.log.Info("reading topics on evbridge's own broker", "broker", login.URL)
		}
		m.mu.Lock()
		m.broker = login.URL
		m.mu.Unlock()
		opts := paho.NewClientOptions().AddBroker(login.URL).SetClientID(id).
			SetUsername(login.Username).SetPassword(login.Password).
			SetCleanSession(true).SetOrderMatters(false).
			SetAutoReconnect(true).SetConnectRetry(true).
			SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(30 * time.Second).
			SetConnectTimeout(max(timeout, time.Second)).SetKeepAlive(30 * time.Second).
			SetTLSConfig(login.TLS).
			SetOnConnectHandler(m.onConnect).
			SetConnectionLostHandler(func(_ paho.Client, err error) {
				m.mu.Lock()
				m.up, m.lost = false, err
				m.mu.Unlock()
				m.log.Warn("mqtt connection lost; reconnecting", "broker", login.URL, "err", err)
			})
		return paho.NewClient(opts)
	}
	return m, nil
}

// onConnect subscribes to every topic, again after each reconnect (the
// session is clean).
func (m *Meter) onConnect(c paho.Client) {
	filters := map[string]byte{}
	for _, s := range m.sources {
		filters[s.Topic] = 0
	}
	tok := c.SubscribeMultiple(filters, func(_ paho.Client, msg paho.Message) {
		m.receive(msg.Topic(), msg.Payload())
	})
	go func() {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			m.log.Warn("mqtt subscribe failed", "err", tok.Error())
			return
		}
		m.mu.Lock()
		m.up, m.lost = true, nil
		m.mu.Unlock()
		m.log.Info("mqtt subscribed", "topics", len(filters))
	}()
}

// receive stores a message for every source on its topic.
func (m *Meter) receive(topic string, payload []byte) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.sources {
		if s.Topic != topic {
			continue
		}
		v, err := s.parse(payload)
		st := state{val: v, at: now, seen: true, err: err}
		if err != nil {
			st.payload = clip(payload)
		} else if !v.stamp.IsZero() {
			st.at = v.stamp
		}
		m.states[i] = st
	}
}

// Read returns the latest values; it fails while a source has none yet,
// its last payload was unusable, or its value is older than max_age.
func (m *Meter) Read(ctx context.Context) (meter.Reading, error) {
	if m.closed.Load() {
		return meter.Reading{}, errors.New("mqtt_topic: meter closed")
	}
	m.connect.Do(func() {
		c := m.dial()
		c.Connect() // retries in the background
		m.mu.Lock()
		m.client = c
		m.mu.Unlock()
	})
	if err := ctx.Err(); err != nil {
		return meter.Reading{}, err
	}
	now := m.now()
	m.mu.Lock()
	states, up, lost := append([]state(nil), m.states...), m.up, m.lost
	m.mu.Unlock()
	var r meter.Reading
	var cur, volt [3]*float64
	var errs []error
	for i, s := range m.sources {
		st := states[i]
		switch {
		case !st.seen:
			why := "not subscribed yet"
			if up {
				why = "subscribed"
			} else if lost != nil {
				why = "connection lost: " + lost.Error()
			}
			errs = append(errs, fmt.Errorf("%s: no message yet (%s)", s.Topic, why))
			continue
		case st.err != nil:
			errs = append(errs, fmt.Errorf("%s: last payload %q: %w", s.Topic, st.payload, st.err))
			continue
		case s.MaxAge > 0 && now.Sub(st.at) > s.MaxAge:
			errs = append(errs, fmt.Errorf("%s: last value is %s old (max_age %s)", s.Topic,
				now.Sub(st.at).Round(time.Second), s.MaxAge))
			continue
		}
		if r.Measured.IsZero() || st.at.Before(r.Measured) {
			r.Measured = st.at
		}
		if !st.val.ok {
			continue
		}
		v := st.val.v
		switch f := s.Field; {
		case f == "power":
			r.Power = &v
		case f == "soc":
			r.SoC = &v
		case f == "energy_import":
			r.EnergyImport = &v
		case f == "energy_export":
			r.EnergyExport = &v
		case strings.HasPrefix(f, "current_l"):
			cur[f[len(f)-1]-'1'] = &v
		case strings.HasPrefix(f, "voltage_l"):
			volt[f[len(f)-1]-'1'] = &v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return meter.Reading{}, fmt.Errorf("mqtt_topic: %w", err)
	}
	r.Currents, r.Voltages = leading(cur), leading(volt)
	if err := meter.CheckReading(r); err != nil {
		return meter.Reading{}, fmt.Errorf("mqtt_topic: %w", err)
	}
	return r, nil
}

// leading returns the phases up to the first missing one.
func leading(vals [3]*float64) []float64 {
	var out []float64
	for _, v := range vals {
		if v == nil {
			break
		}
		out = append(out, *v)
	}
	return out
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// Close disconnects from the broker; a Read after Close fails.
func (m *Meter) Close() error {
	m.connect.Do(func() {}) // never connect after Close
	m.closed.Store(true)
	m.mu.Lock()
	c := m.client
	m.mu.Unlock()
	if c != nil {
		c.Disconnect(250)
	}
	return nil
}

var (
	_ meter.Meter  = (*Meter)(nil)
	_ meter.Closer = (*Meter)(nil)
)
