package discover

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// newHTTPClient returns a client for fingerprints: connections come from
// o.Dial within the connection timeout, no proxy, no redirects, no
// compression; every request is bounded by its context (see httpGetter).
func newHTTPClient(o Options) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, o.ConnTimeout)
		defer cancel()
		return o.Dial(ctx, network, addr)
	}
	tr := &http.Transport{
		Proxy:                  nil, // LAN devices: never through a proxy
		DialContext:            dial,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        5 * time.Second,
		ResponseHeaderTimeout:  o.ConnTimeout,
		MaxResponseHeaderBytes: 16 << 10,
		DisableCompression:     true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not a hop
		},
	}
}

// httpGetter returns a GetFunc for host:port. Each request gets at most
// twice the connection timeout in all (connect, headers, body), and reads
// at most maxBody bytes; a longer reply is an error.
func httpGetter(c *http.Client, hostport string, timeout time.Duration) GetFunc {
	return func(ctx context.Context, path string) (int, []byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostport+path, nil)
		if err != nil {
			return 0, nil, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "evbridge-discover")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		if err != nil {
			return 0, nil, fmt.Errorf("read reply of %s: %w", path, err)
		}
		if len(body) > maxBody {
			return 0, nil, fmt.Errorf("%w: reply of %s larger than %d bytes", ErrNotIdentified, path, maxBody)
		}
		return resp.StatusCode, body, nil
	}
}

// ModbusException is a Modbus exception reply (function code | 0x80).
type ModbusException struct {
	Function, Code byte
}

func (e *ModbusException) Error() string {
	return fmt.Sprintf("modbus exception %d to function %d", e.Code, e.Function)
}

// errBadFrame is a reply that is not a Modbus TCP frame answering ours.
var errBadFrame = errors.New("malformed modbus reply")

// mbConn is a minimal read-only Modbus TCP client on one connection, for
// fingerprints: no retries, no pooling, every request bounded by the
// timeout and the context, replies validated before anything is decoded.
type mbConn struct {
	mu      sync.Mutex
	c       net.Conn
	tid     uint16
	timeout time.Duration
}

func dialModbus(ctx context.Context, o Options, hostport string) (*mbConn, error) {
	dctx, cancel := context.WithTimeout(ctx, o.ConnTimeout)
	defer cancel()
	c, err := o.Dial(dctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return &mbConn{c: c, timeout: o.ConnTimeout}, nil
}

func (m *mbConn) Close() error { return m.c.Close() }

// ReadHolding reads holding registers (FC3).
func (m *mbConn) ReadHolding(ctx context.Context, unit uint8, addr, count uint16) ([]uint16, error) {
	return m.read(ctx, 3, unit, addr, count)
}

// ReadInput reads input registers (FC4).
func (m *mbConn) ReadInput(ctx context.Context, unit uint8, addr, count uint16) ([]uint16, error) {
	return m.read(ctx, 4, unit, addr, count)
}

func (m *mbConn) read(ctx context.Context, fc, unit uint8, addr, count uint16) ([]uint16, error) {
	if count == 0 || count > 125 || int(addr)+int(count) > 0x10000 {
		return nil, fmt.Errorf("modbus read %d+%d: bad request", addr, count)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	deadline := time.Now().Add(m.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := m.c.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("modbus read: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = m.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	m.tid++
	var req [12]byte
	binary.BigEndian.PutUint16(req[0:], m.tid)
	binary.BigEndian.PutUint16(req[4:], 6) // unit + PDU
	req[6], req[7] = unit, fc
	binary.BigEndian.PutUint16(req[8:], addr)
	binary.BigEndian.PutUint16(req[10:], count)
	if _, err := m.c.Write(req[:]); err != nil {
		return nil, fmt.Errorf("modbus read %d+%d at unit %d: %w", addr, count, unit, ctxOr(ctx, err))
	}
	regs, err := m.reply(fc, unit, count)
	if err != nil {
		return nil, fmt.Errorf("modbus read %d+%d at unit %d: %w", addr, count, unit, ctxOr(ctx, err))
	}
	return regs, nil
}

// reply reads one MBAP frame (at most 7+253 bytes) and checks that it
// answers the request just sent.
func (m *mbConn) reply(fc, unit uint8, count uint16) ([]uint16, error) {
	var hdr [7]byte
	if _, err := io.ReadFull(m.c, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	switch {
	case binary.BigEndian.Uint16(hdr[0:]) != m.tid, binary.BigEndian.Uint16(hdr[2:]) != 0:
		return nil, fmt.Errorf("%w: transaction or protocol id", errBadFrame)
	case n < 3 || n > 254:
		return nil, fmt.Errorf("%w: length %d", errBadFrame, n)
	case hdr[6] != unit:
		return nil, fmt.Errorf("%w: unit %d answered", errBadFrame, hdr[6])
	}
	pdu := make([]byte, n-1)
	if _, err := io.ReadFull(m.c, pdu); err != nil {
		return nil, err
	}
	switch {
	case pdu[0] == fc|0x80:
		return nil, &ModbusException{Function: fc, Code: pdu[1]}
	case pdu[0] != fc:
		return nil, fmt.Errorf("%w: function %d answered", errBadFrame, pdu[0])
	case int(pdu[1]) != 2*int(count) || len(pdu) != 2+2*int(count):
		return nil, fmt.Errorf("%w: %d data bytes for %d registers", errBadFrame, pdu[1], count)
	}
	regs := make([]uint16, count)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(pdu[2+2*i:])
	}
	return regs, nil
}

// ctxOr prefers the context's error, which says why I/O was cut short.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}
