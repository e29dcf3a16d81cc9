package ablemh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// conn is one gateway socket; whoever holds sem owns the fields below it.
type conn struct {
	pool *Pool
	addr string
	refs int // guarded by pool.mu

	sem      chan struct{}
	nc       net.Conn // nil when not connected
	r        *bufio.Reader
	used     bool // a request was answered on nc
	fails    int
	nextDial time.Time
	lastErr  error
	lastUse  time.Time
	idle     *time.Timer
	closed   bool
}

// exec runs one request, dialing first if needed. A read that fails
// because the peer closed an idle-looking connection is retried once
// on a fresh one; every other failure but an exception drops the
// connection, so a late reply can never be taken for the next one.
func (c *conn) exec(ctx context.Context, deadline time.Time, unit byte, pdu []byte, check func([]byte) error) (kind, cause error) {
	if c.closed {
		return modbusx.ErrClosed, nil
	}
	if c.idle != nil {
		c.idle.Stop()
	}
	defer c.armIdle()
	frame := encodeFrame(startRequest, unit, pdu)
	read := pdu[0] == fcRead
	for attempt := 0; ; attempt++ {
		if c.nc == nil {
			if err := c.dial(ctx, deadline); err != nil {
				return modbusx.ErrUnreachable, err
			}
		}
		reused := c.used
		kind, cause, drop := c.roundTrip(ctx, deadline, frame, unit, pdu[0], check)
		c.pool.requests.Add(1)
		c.lastUse = time.Now()
		if !drop { // an answer, even an exception, proves the link works
			c.used, c.fails = true, 0
			return kind, cause
		}
		c.pool.log.Debug("dropping connection", "gateway", c.addr, "unit", unit, "kind", kind, "err", cause)
		c.drop(cause)
		if !(read && reused && attempt == 0 && peerClosed(cause)) || ctx.Err() != nil {
			return kind, cause
		}
	}
}

// roundTrip writes frame and reads the reply line.
func (c *conn) roundTrip(ctx context.Context, deadline time.Time, frame []byte, unit, fc byte, check func([]byte) error) (kind, cause error, drop bool) {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return modbusx.ErrConnection, err, true
	}
	nc := c.nc
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)); close(fired) })
	defer func() {
		if !stop() {
			<-fired // the past deadline lands before the next request sets its own
		}
	}()
	if _, err := c.nc.Write(frame); err != nil {
		return linkKind(err), err, true
	}
	echoed := false
	for {
		line, err := c.readLine()
		if err != nil {
			return linkKind(err), err, true
		}
		// Some RS485 converters send the request back first: skip it once.
		if !echoed && bytes.Equal(bytes.TrimRight(line, "\r\n"), bytes.TrimRight(frame, "\r\n")) {
			echoed = true
			continue
		}
		_, gotUnit, reply, err := decodeFrame(line)
		if err != nil {
			return modbusx.ErrBadFrame, err, true
		}
		if gotUnit != unit {
			return modbusx.ErrBadFrame, fmt.Errorf("reply from device id %d", gotUnit), true
		}
		code, err := exceptionReply(fc, reply)
		switch {
		case err != nil:
			return modbusx.ErrBadFrame, err, true
		case code != 0:
			return exception(code), nil, false
		}
		if err := check(reply); err != nil {
			return modbusx.ErrBadFrame, err, true
		}
		return nil, nil, false
	}
}

// readLine reads up to LF; a longer line than a frame can be is garbage.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%w: starts %q", errFrameLong, line[:min(len(line), 32)])
	}
	return line, err
}

func (c *conn) dial(ctx context.Context, deadline time.Time) error {
	now := time.Now()
	if now.Before(c.nextDial) {
		if !c.nextDial.Before(deadline) {
			return fmt.Errorf("next attempt in %s, last error: %w", c.nextDial.Sub(now).Round(time.Millisecond), c.lastErr)
		}
		t := time.NewTimer(c.nextDial.Sub(now)) // the backoff ends within this request's time
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		now = time.Now()
	}
	c.pool.dials.Add(1)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		c.fails++
		c.lastErr = err
		c.nextDial = now.Add(c.pool.backoff(c.fails))
		return err
	}
	c.nc, c.r, c.used = nc, bufio.NewReaderSize(nc, maxFrameChars+3), false
	return nil
}

func (c *conn) drop(err error) {
	c.close()
	c.fails++
	c.lastErr = err
	c.nextDial = time.Now().Add(c.pool.backoff(c.fails))
}

func (c *conn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc, c.r, c.used = nil, nil, false
	}
}

func (c *conn) armIdle() {
	if c.nc == nil || c.closed {
		return
	}
	if c.idle == nil {
		c.idle = time.AfterFunc(c.pool.cfg.IdleTimeout, c.idleClose)
		return
	}
	c.idle.Reset(c.pool.cfg.IdleTimeout)
}

// idleClose runs on the idle timer; a busy connection is not idle.
func (c *conn) idleClose() {
	select {
	case c.sem <- struct{}{}:
	default:
		return
	}
	defer func() { <-c.sem }()
	if c.nc != nil && time.Since(c.lastUse) >= c.pool.cfg.IdleTimeout {
		c.pool.log.Debug("closing idle connection", "gateway", c.addr)
		c.close()
	}
}

// shutdown closes for good, once the request in flight (if any) ends.
func (c *conn) shutdown() {
	final := func() {
		defer func() { <-c.sem }()
		c.closed = true
		if c.idle != nil {
			c.idle.Stop()
		}
		c.close()
	}
	select {
	case c.sem <- struct{}{}:
		final()
	default:
		go func() {
			c.sem <- struct{}{}
			final()
		}()
	}
}

// linkKind classifies an I/O error.
func linkKind(err error) error {
	if os.IsTimeout(err) {
		return modbusx.ErrTimeout
	}
	if errors.Is(err, errFrameLong) {
		return modbusx.ErrBadFrame
	}
	return modbusx.ErrConnection
}

// peerClosed tells an error from a connection the peer closed while it
// sat idle: a read on it is worth one retry on a fresh connection.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// exceptions maps exception codes to modbusx's sentinels.
var exceptions = map[byte]*modbusx.Exception{
	1: modbusx.ErrIllegalFunction, 2: modbusx.ErrIllegalAddress, 3: modbusx.ErrIllegalValue,
	4: modbusx.ErrDeviceFailure, 5: modbusx.ErrAcknowledge, 6: modbusx.ErrDeviceBusy,
	8: modbusx.ErrMemoryParity, 10: modbusx.ErrGatewayPath, 11: modbusx.ErrGatewayTarget,
}

func exception(code byte) error {
	if e, ok := exceptions[code]; ok {
		return e
	}
	return fmt.Errorf("%w: unknown code %d", modbusx.ErrException, code)
}
