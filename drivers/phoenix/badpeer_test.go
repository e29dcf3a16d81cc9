package phoenix

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// rawPeer serves loopback TCP without Modbus: answer gets each request
// as read and returns what to send back (nil: nothing, ever).
func rawPeer(t *testing.T, answer func(req []byte) []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if out := answer(buf[:n]); out != nil {
						c.Write(out)
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func badPeerDriver(t *testing.T, addr string) *Charger {
	t.Helper()
	c, err := New(charger.Settings{Address: addr, Timeout: 300 * time.Millisecond}, DefaultOptions(), nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSilentPort(t *testing.T) {
	c := badPeerDriver(t, rawPeer(t, func([]byte) []byte { return nil }))
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if err := c.SetEnabled(context.Background(), true); !errors.Is(err, modbusx.ErrTimeout) {
		t.Fatalf("coil err = %v, want a timeout", err)
	}
}

func TestNotModbus(t *testing.T) {
	c := badPeerDriver(t, rawPeer(t, func([]byte) []byte {
		return []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
	}))
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrBadFrame) || !errors.Is(err, charger.ErrBadReply) {
		t.Fatalf("err = %v, want a bad frame", err)
	}
}

// TestWrongWordCount: a peer that answers with fewer registers than
// asked, in a well-formed frame.
func TestWrongWordCount(t *testing.T) {
	c := badPeerDriver(t, rawPeer(t, func(req []byte) []byte {
		if len(req) < 12 {
			return nil
		}
		n := binary.BigEndian.Uint16(req[10:12]) - 1
		out := append([]byte{}, req[0:4]...)
		out = binary.BigEndian.AppendUint16(out, 3+2*n)
		out = append(out, req[6], req[7], byte(2*n))
		return append(out, make([]byte, 2*n)...)
	}))
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrBadFrame) {
		t.Fatalf("err = %v, want a bad frame", err)
	}
}

// TestClosedPort: nothing listens; the error says so and is retried with
// backoff, not in a busy loop.
func TestClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := badPeerDriver(t, addr)
	for range 3 {
		if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrUnreachable) {
			t.Fatalf("err = %v, want unreachable", err)
		}
	}
}
