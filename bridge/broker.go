package bridge

import (
	"fmt"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// EmbeddedBroker is the MQTT broker evbridge starts when no broker is
// configured, so a first run works with nothing else installed. It accepts
// anonymous clients and should listen on loopback unless the user says
// otherwise.
type EmbeddedBroker struct {
	server *mqtt.Server
	tcp    *listeners.TCP
}

// StartEmbeddedBroker listens on addr (host:port; port 0 picks one).
func StartEmbeddedBroker(addr string, log *slog.Logger) (*EmbeddedBroker, error) {
	server := mqtt.New(&mqtt.Options{
		InlineClient: false,
		Logger:       log.With("component", "embedded-broker"),
	})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := server.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", addr, err)
	}
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &EmbeddedBroker{server: server, tcp: tcp}, nil
}

// Addr is the bound host:port.
func (b *EmbeddedBroker) Addr() string { return b.tcp.Address() }

// URL is the broker's address as an MQTT URL.
func (b *EmbeddedBroker) URL() string { return "tcp://" + b.Addr() }

// Close stops the broker and disconnects its clients.
func (b *EmbeddedBroker) Close() error { return b.server.Close() }
