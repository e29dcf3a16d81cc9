package ocpp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// maxLoggedBadFrames per connection are logged at warn level; the rest at
// debug, so a babbling charge point cannot flood the log.
const maxLoggedBadFrames = 5

// wsConn is one charge point's WebSocket connection. It implements
// ws.Channel for the library.
type wsConn struct {
	id       string
	ep       *endpoint
	conn     *websocket.Conn
	remote   net.Addr
	tlsState *tls.ConnectionState

	out       chan []byte
	closing   chan struct{}
	closeOnce sync.Once
	closeCode int
	closeText string
	readDone  chan struct{}
	writeDone chan struct{}
	done      chan struct{} // closed once the disconnect is handled

	// link is the dialect's command link of this connection.
	link link

	mu        sync.Mutex
	why       string
	badFrames int
}

func newWSConn(id string, ep *endpoint, conn *websocket.Conn, tlsState *tls.ConnectionState) *wsConn {
	c := &wsConn{id: id, ep: ep, conn: conn, tlsState: tlsState,
		out: make(chan []byte, outQueueSize), closing: make(chan struct{}),
		readDone: make(chan struct{}), writeDone: make(chan struct{}), done: make(chan struct{})}
	if conn != nil {
		c.remote = conn.RemoteAddr()
	}
	return c
}

func (c *wsConn) ID() string                               { return c.id }
func (c *wsConn) RemoteAddr() net.Addr                     { return c.remote }
func (c *wsConn) TLSConnectionState() *tls.ConnectionState { return c.tlsState }

func (c *wsConn) reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// shutdown asks the write pump to send a close frame and hang up.
func (c *wsConn) shutdown(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		c.mu.Lock()
		if c.why == "" {
			c.why = text
		}
		c.mu.Unlock()
		close(c.closing)
	})
}

// send queues one message.
func (c *wsConn) send(data []byte) error {
	select {
	case <-c.closing:
		return fmt.Errorf("connection to %s is closing", c.id)
	case c.out <- data:
		return nil
	default:
	}
	timer := time.NewTimer(writeWait)
	defer timer.Stop()
	select {
	case c.out <- data:
		return nil
	case <-c.closing:
		return fmt.Errorf("connection to %s is closing", c.id)
	case <-timer.C:
		c.shutdown(websocket.CloseTryAgainLater, "send queue full")
		return fmt.Errorf("connection to %s: send queue full", c.id)
	}
}

func (c *wsConn) writePump(pingEvery time.Duration) {
	defer close(c.writeDone)
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case data := <-c.out:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "write failed: "+err.Error())
				_ = c.conn.Close()
				return
			}
			if w := c.ep.written; w != nil && len(data) > 1 {
				w(c.id, data[1])
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "ping failed: "+err.Error())
				_ = c.conn.Close()
				return
			}
		case <-c.closing:
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
			_ = c.conn.Close()
			return
		}
	}
}

// readPump reads frames until the connection fails. Any frame, ping or
// pong keeps the connection alive for wait.
func (c *wsConn) readPump(wait time.Duration) {
	defer close(c.readDone)
	alive := func() { _ = c.conn.SetReadDeadline(time.Now().Add(wait)) }
	alive()
	c.conn.SetPongHandler(func(string) error { alive(); return nil })
	c.conn.SetPingHandler(func(data string) error {
		alive()
		err := c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return err
			}
		}
		return nil
	})
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.shutdown(websocket.CloseNormalClosure, readFailure(err, wait))
			return
		}
		alive()
		if typ != websocket.TextMessage {
			c.badFrame(errors.New("binary frame; OCPP-J uses text frames"), msg)
			continue
		}
		c.deliver(msg)
	}
}

// deliver hands one frame to the library. A panic below is contained to
// this connection: it is logged and the connection closed.
func (c *wsConn) deliver(msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			c.ep.t.log.Error("ocpp frame handling panicked; closing the connection",
				"charge_point", c.id, "panic", r, "frame", snippet(msg), "stack", string(debug.Stack()))
			c.shutdown(websocket.CloseInternalServerErr, "internal error")
		}
	}()
	if h := c.ep.handler; h != nil {
		if err := h(c, msg); err != nil {
			c.badFrame(err, msg)
		}
	}
}

func (c *wsConn) badFrame(err error, msg []byte) {
	c.mu.Lock()
	c.badFrames++
	n := c.badFrames
	c.mu.Unlock()
	log := c.ep.t.log.Debug
	if n <= maxLoggedBadFrames {
		log = c.ep.t.log.Warn
	}
	log("ocpp frame rejected", "charge_point", c.id, "err", err, "frame", snippet(msg), "bad_frames", n)
}

func readFailure(err error, wait time.Duration) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("closed by the charge point (%d %s)", ce.Code, ce.Text)
	case errors.Is(err, websocket.ErrReadLimit):
		return "frame larger than max_frame_bytes"
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("nothing received for %s", wait)
	}
	return "read failed: " + err.Error()
}

// snippet shortens a frame for a log line.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
