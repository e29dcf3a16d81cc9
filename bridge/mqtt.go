package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/evbridge/evbridge/bridge/config"
)

// mqttLink is evbridge's one connection to the broker. It reconnects on its
// own; onConnect runs after every (re)connect so that subscriptions and
// retained state are restored even on a broker that lost them.
type mqttLink struct {
	client paho.Client
	log    *slog.Logger
}

// mqttSettings is what newMQTTLink needs beyond the config section.
type mqttSettings struct {
	BrokerURL   string
	WillTopic   string
	OnConnect   func()
	OnLost      func(error)
	MaxInterval time.Duration
}

func newMQTTLink(cfg config.MQTT, s mqttSettings, log *slog.Logger) (*mqttLink, error) {
	opts := paho.NewClientOptions().
		AddBroker(s.BrokerURL).
		SetClientID(cfg.ClientID).
		SetKeepAlive(cfg.KeepAlive).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(s.MaxInterval).
		SetConnectTimeout(5*time.Second).
		SetWriteTimeout(5*time.Second).
		SetWill(s.WillTopic, "offline", 1, true)
	if cfg.Username != "" {
		opts.SetUsername(cfg.Username)
		opts.SetPassword(cfg.Password)
	}
	tlsConf, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if tlsConf != nil {
		opts.SetTLSConfig(tlsConf)
	}
	opts.SetOnConnectHandler(func(paho.Client) {
		log.Info("mqtt connected", "broker", s.BrokerURL)
		s.OnConnect()
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		log.Warn("mqtt connection lost; reconnecting", "broker", s.BrokerURL, "err", err)
		if s.OnLost != nil {
			s.OnLost(err)
		}
	})
	return &mqttLink{client: paho.NewClient(opts), log: log}, nil
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	if t.CAFile == "" && t.CertFile == "" && !t.InsecureSkipVerify && t.ServerName == "" {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, ServerName: t.ServerName, MinVersion: tls.VersionTLS12} //nolint:gosec // user's explicit choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt tls: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt tls: ca_file %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt tls: load client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// connect starts connecting; with ConnectRetry it keeps trying in the
// background, so an absent broker at start never stops the daemon.
func (m *mqttLink) connect() { m.client.Connect() }

// publish sends without waiting for the broker's acknowledgement; while
// disconnected the message is dropped, and onConnect republishes all
// retained state.
func (m *mqttLink) publish(topic string, qos byte, retain bool, payload []byte) {
	if !m.client.IsConnectionOpen() {
		m.log.Debug("mqtt not connected; dropped", "topic", topic)
		return
	}
	tok := m.client.Publish(topic, qos, retain, payload)
	go func() {
		if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			m.log.Warn("mqtt publish failed", "topic", topic, "err", tok.Error())
		}
	}()
}

// publishWait sends and waits for the acknowledgement, for the last
// messages before disconnecting.
func (m *mqttLink) publishWait(topic string, qos byte, retain bool, payload []byte, timeout time.Duration) {
	if !m.client.IsConnectionOpen() {
		return
	}
	m.client.Publish(topic, qos, retain, payload).WaitTimeout(timeout)
}

func (m *mqttLink) subscribe(topic string, qos byte, h func(topic string, payload []byte)) error {
	tok := m.client.Subscribe(topic, qos, func(_ paho.Client, msg paho.Message) {
		h(msg.Topic(), msg.Payload())
	})
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("subscribe %s: timed out", topic)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe %s: %w", topic, err)
	}
	return nil
}

func (m *mqttLink) unsubscribe(topic string) {
	m.client.Unsubscribe(topic).WaitTimeout(5 * time.Second)
}

func (m *mqttLink) disconnect() { m.client.Disconnect(500) }
