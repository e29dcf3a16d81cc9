package ablemh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

// The Modbus ASCII transport. simonvetter/modbus (under modbusx) has no
// ASCII mode, so this package carries its own small client: ONE TCP
// connection per gateway address, shared by every controller (device
// id) behind it; requests on it are serialized, each bounded by its
// timeout and its context; a connection that failed is dropped and
// opened again with backoff; an idle one is closed. Its errors are
// *modbusx.Error values with modbusx's sentinels, so that drivers and
// the core classify them as for every other Modbus driver.

// PoolConfig tunes a Pool; zero fields take the defaults shown.
type PoolConfig struct {
	// Timeout is the default request timeout (2 s).
	Timeout time.Duration
	// IdleTimeout closes a connection unused this long (30 s).
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before re-connecting
	// after repeated failures (0.5 s doubling to 30 s, ±20 % jitter).
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
}

// Pool shares gateway connections among Clients; safe for concurrent use.
type Pool struct {
	cfg PoolConfig
	log *slog.Logger

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool

	dials, requests atomic.Uint64
}

// PoolStats counts what a pool did, for tests.
type PoolStats struct {
	Conns    int    // connections with clients
	Dials    uint64 // connection attempts
	Requests uint64 // requests sent
}

// NewPool returns an empty pool; it opens nothing until a request.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 500 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Pool{cfg: cfg, log: lg.With("component", "modbus-ascii"), conns: map[string]*conn{}}
}

// shared is the pool of the drivers the registry builds.
var shared = sync.OnceValue(func() *Pool { return NewPool(PoolConfig{}) })

// Client returns a handle for device id unit behind address (host:port);
// it does no I/O. Close it when done.
func (p *Pool) Client(address string, unit uint8, timeout time.Duration) (*Client, error) {
	if _, _, err := net.SplitHostPort(address); err != nil {
		return nil, fmt.Errorf("gateway address %q: %w", address, err)
	}
	if timeout <= 0 {
		timeout = p.cfg.Timeout
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("gateway %q: pool closed", address)
	}
	c := p.conns[address]
	if c == nil {
		c = &conn{pool: p, addr: address, sem: make(chan struct{}, 1)}
		p.conns[address] = c
	}
	c.refs++
	return &Client{c: c, unit: unit, timeout: timeout}, nil
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	return PoolStats{Conns: n, Dials: p.dials.Load(), Requests: p.requests.Load()}
}

// Close closes every connection; Clients still held get ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[string]*conn{}
	p.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	return nil
}

func (p *Pool) backoff(fails int) time.Duration {
	if fails <= 1 {
		return 0
	}
	d := min(p.cfg.BackoffMin<<min(fails-2, 20), p.cfg.BackoffMax)
	return d - d/5 + rand.N(2*d/5+1)
}

// Client is one device id on a shared gateway connection.
type Client struct {
	c       *conn
	unit    uint8
	timeout time.Duration
	closed  atomic.Bool
}

// Read reads count holding registers from addr (FC3).
func (cl *Client) Read(ctx context.Context, addr, count uint16) ([]uint16, error) {
	if count == 0 || count > maxReadRegs {
		return nil, cl.fail("read", addr, count, modbusx.ErrBadRequest, nil)
	}
	var regs []uint16
	err := cl.do(ctx, "read", addr, count, readRequest(addr, count), func(pdu []byte) (err error) {
		regs, err = parseReadReply(pdu, count)
		return err
	})
	return regs, err
}

// Write writes regs from addr in one FC16 request, the only write the
// controller knows.
func (cl *Client) Write(ctx context.Context, addr uint16, regs ...uint16) error {
	n := uint16(min(len(regs), 0xffff))
	if len(regs) == 0 || len(regs) > maxWriteRegs {
		return cl.fail("write", addr, n, modbusx.ErrBadRequest, nil)
	}
	return cl.do(ctx, "write", addr, n, writeRequest(addr, regs), func(pdu []byte) error {
		return parseWriteReply(pdu, addr, n)
	})
}

// Close releases the client; the last one on a connection closes it.
func (cl *Client) Close() error {
	if !cl.closed.CompareAndSwap(false, true) {
		return nil
	}
	p := cl.c.pool
	p.mu.Lock()
	cl.c.refs--
	last := cl.c.refs == 0 && p.conns[cl.c.addr] == cl.c
	if last {
		delete(p.conns, cl.c.addr)
	}
	p.mu.Unlock()
	if last {
		cl.c.shutdown()
	}
	return nil
}

func (cl *Client) fail(op string, addr, count uint16, kind, cause error) error {
	return &modbusx.Error{Endpoint: cl.c.addr, Unit: cl.unit, Op: op, Addr: addr, Count: count, Kind: kind, Err: cause}
}

// do sends pdu and hands the reply's PDU to check, with the connection
// held; the request ends at its timeout or when ctx ends.
func (cl *Client) do(ctx context.Context, op string, addr, count uint16, pdu []byte, check func([]byte) error) error {
	fail := func(kind, cause error) error { return cl.fail(op, addr, count, kind, cause) }
	ctxErr := func(err error) error {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(modbusx.ErrTimeout, nil)
		}
		return fail(err, nil)
	}
	if cl.closed.Load() {
		return fail(modbusx.ErrClosed, nil)
	}
	if err := ctx.Err(); err != nil {
		return ctxErr(err)
	}
	c := cl.c
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx.Err())
	}
	defer func() { <-c.sem }()
	if err := ctx.Err(); err != nil { // never start a request after ctx is done
		return ctxErr(err)
	}
	deadline := time.Now().Add(cl.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	kind, cause := c.exec(ctx, deadline, cl.unit, pdu, check)
	if kind == nil {
		return nil
	}
	if ctx.Err() != nil && (kind == modbusx.ErrTimeout || kind == modbusx.ErrConnection || kind == modbusx.ErrUnreachable) {
		return ctxErr(ctx.Err())
	}
	return fail(kind, cause)
}
