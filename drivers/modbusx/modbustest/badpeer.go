package modbustest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Dial connects a driver with default options and the given timeout;
// see Connect.
type Dial[D Driver] func(t testing.TB, addr string, timeout time.Duration) D

// badPeerTimeout keeps the bad peer tests short: nothing on loopback
// takes this long.
const badPeerTimeout = 300 * time.Millisecond

// SilentPort: a port that accepts and never answers gives a timeout. It
// returns the driver so the package can check its other requests
// (coils, watchdog refresh) time out as well.
func SilentPort[D Driver](t *testing.T, dial Dial[D]) D {
	t.Helper()
	c := dial(t, RawPeer(t, func([]byte) []byte { return nil }), badPeerTimeout)
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	return c
}

// NotModbusPort: a web server on the port gives a bad frame, which the
// core sees as a bad reply.
func NotModbusPort[D Driver](t *testing.T, dial Dial[D]) {
	t.Helper()
	c := dial(t, RawPeer(t, HTTPReply), badPeerTimeout)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrBadFrame) || !errors.Is(err, charger.ErrBadReply) {
		t.Fatalf("err = %v, want a bad frame", err)
	}
}

// WrongWordCount: a peer that answers with fewer registers than asked,
// in a well-formed frame, gives a bad frame.
func WrongWordCount[D Driver](t *testing.T, dial Dial[D]) {
	t.Helper()
	c := dial(t, RawPeer(t, ShortFC3), badPeerTimeout)
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrBadFrame) {
		t.Fatalf("err = %v, want a bad frame", err)
	}
}

// ClosedPortUnreachable: nothing listens; the error says so and is
// retried with backoff, not in a busy loop.
func ClosedPortUnreachable[D Driver](t *testing.T, dial Dial[D]) {
	t.Helper()
	c := dial(t, ClosedPort(t), badPeerTimeout)
	for range 3 {
		if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrUnreachable) {
			t.Fatalf("err = %v, want unreachable", err)
		}
	}
}
