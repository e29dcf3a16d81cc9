// Package modbustest holds the test helpers every Modbus driver shares:
// the common setup (a fast-retrying pool, polling, waiting), peers that
// misbehave on the network (a port that never answers, a non-Modbus
// service, a closed port) and the fault tests each driver runs against
// its simulator. Each driver package calls them with its own driver and
// simulator, so that every driver is held to the same behaviour.
package modbustest

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Pool returns a pool that retries quickly, closed at the end of the test.
func Pool(t testing.TB) *modbusx.Pool {
	p := modbusx.NewPool(modbusx.PoolConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	return p
}

// WaitFor polls cond with a generous deadline; it never asserts speed.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FakeServer accepts connections on loopback and hands each to serve.
func FakeServer(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); serve(conn) }()
		}
	}()
	return l.Addr().String()
}

// Silent accepts and reads every request, never answering: a port
// whose service hung, or a device that ignores the unit id.
func Silent(conn net.Conn) { io.Copy(io.Discard, conn) }

// NotModbus answers the first request as a web server would: a port
// number typed wrong.
func NotModbus(conn net.Conn) {
	conn.Read(make([]byte, 64))
	conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
}

// AnswerFC3 answers every Modbus TCP request with regs as an FC3 reply,
// whatever was asked: a well-formed frame with the wrong word count.
func AnswerFC3(regs ...uint16) func(net.Conn) {
	return func(conn net.Conn) {
		hdr := make([]byte, 7)
		for {
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint16(hdr[4:6]))-1); err != nil {
				return
			}
			pdu := []byte{3, byte(2 * len(regs))}
			for _, r := range regs {
				pdu = binary.BigEndian.AppendUint16(pdu, r)
			}
			res := append(hdr[:4:4], 0, byte(len(pdu)+1), hdr[6])
			if _, err := conn.Write(append(res, pdu...)); err != nil {
				return
			}
		}
	}
}

// RawPeer serves loopback TCP without Modbus: answer gets each request
// as read and returns what to send back (nil: nothing, ever). Unlike
// FakeServer it closes the open connections at the end of the test, so
// a driver blocked on one is released.
func RawPeer(t testing.TB, answer func(req []byte) []byte) string {
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

// ShortFC3 answers a Modbus TCP read with one register fewer than asked,
// in a well-formed frame; other requests get nothing.
func ShortFC3(req []byte) []byte {
	if len(req) < 12 {
		return nil
	}
	n := binary.BigEndian.Uint16(req[10:12]) - 1
	out := append([]byte{}, req[0:4]...)
	out = binary.BigEndian.AppendUint16(out, 3+2*n)
	out = append(out, req[6], req[7], byte(2*n))
	return append(out, make([]byte, 2*n)...)
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// HTTPReply answers every request as a web server would, for RawPeer.
func HTTPReply([]byte) []byte {
	return []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
}
