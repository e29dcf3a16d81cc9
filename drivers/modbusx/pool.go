// Package modbusx is the Modbus client layer every Modbus charger driver
// shares.
//
//   - Pool keeps ONE connection per host:port (and framing), shared by
//     every unit id behind it: chargers behind one RS485 gateway, or the
//     socket and station units of one charger. Requests on a connection
//     are serialized; each is bounded by its timeout and its context; a
//     broken connection is re-opened with backoff; an idle one is closed;
//     the last Client to close closes the socket.
//   - Framings: Modbus TCP and RTU over TCP through
//     github.com/simonvetter/modbus, and Modbus ASCII over TCP (a
//     transparent RS485 gateway) with this package's own link
//     (ascii.go), which also takes replies starting with '>' as ABL's
//     controllers send them. The pool code above is the same for all.
//   - NewPlan merges the registers a driver needs into few reads; a Block
//     holds what they returned and decodes typed values by address.
//   - Exceptions and link failures are *Error values naming endpoint,
//     unit and register, matching the exported sentinels with errors.Is
//     (and charger.ErrBadReply / ErrRejected / ErrNotSupported where they
//     apply), whatever the framing.
package modbusx

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Framing is how requests are framed on the TCP stream.
type Framing uint8

// Framings: Modbus TCP (MBAP header), RTU frames with CRC tunnelled over
// TCP as transparent RS485 gateways do, or Modbus ASCII lines through
// such a gateway (functions 01, 03, 04, 05, 06 and 16; a request echoed
// back by the gateway is skipped once).
const (
	TCP Framing = iota
	RTUOverTCP
	ASCIIOverTCP
)

// Endpoint is one device (unit) behind an address.
type Endpoint struct {
	// Address is host:port; see HostPort.
	Address string
	Framing Framing
	// Unit is the Modbus unit (slave) id.
	Unit uint8
	// Timeout bounds one request, connecting included (default: the
	// pool's). The connection's own I/O deadline is the longest timeout
	// of its clients when it was opened.
	Timeout time.Duration
}

// PoolConfig tunes a Pool; zero fields take the defaults shown.
type PoolConfig struct {
	// Timeout is the default request timeout (2 s).
	Timeout time.Duration
	// IdleTimeout closes a connection unused this long (30 s; many
	// devices drop idle masters after 60 s).
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before re-connecting after
	// repeated failures (0.5 s doubling to 30 s, ±20 % jitter). The first
	// re-connect after a working connection broke is immediate.
	BackoffMin, BackoffMax time.Duration
	// Logger receives debug logs (and the library's own messages).
	Logger *slog.Logger
}

// Pool shares connections among Clients. It is safe for concurrent use.
type Pool struct {
	cfg    PoolConfig
	log    *slog.Logger
	libLog *log.Logger

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool

	dials, requests atomic.Uint64
	open            atomic.Int64
}

// PoolStats counts what a pool did, for tests and metrics.
type PoolStats struct {
	Conns    int    // connections with clients
	Open     int    // of those, with an open socket
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
	lg = lg.With("component", "modbus")
	return &Pool{cfg: cfg, log: lg, libLog: LibLogger(lg), conns: map[string]*conn{}}
}

// LibLogger returns a logger for the modbus library's configurations
// (client or server) that turns its lines into debug records of l.
func LibLogger(l *slog.Logger) *log.Logger { return log.New(libWriter{l}, "", 0) }

// libWriter turns the library's log lines into debug records.
type libWriter struct{ log *slog.Logger }

func (w libWriter) Write(p []byte) (int, error) {
	w.log.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// HostPort adds port to addr when it has none ("10.0.0.5" → "10.0.0.5:502").
func HostPort(addr string, port int) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), strconv.Itoa(port))
}

// Client returns a handle on ep's connection; it does no I/O. Close it
// when done: the last Close of a connection closes its socket.
func (p *Pool) Client(ep Endpoint) (*Client, error) {
	if _, _, err := net.SplitHostPort(ep.Address); err != nil {
		return nil, fmt.Errorf("modbus endpoint %q: %w", ep.Address, err)
	}
	scheme := "tcp"
	switch ep.Framing {
	case TCP:
	case RTUOverTCP:
		scheme = "rtuovertcp"
	case ASCIIOverTCP:
		scheme = "asciiovertcp"
	default:
		return nil, fmt.Errorf("modbus endpoint %q: unknown framing %d", ep.Address, ep.Framing)
	}
	if ep.Timeout <= 0 {
		ep.Timeout = p.cfg.Timeout
	}
	key := scheme + "://" + ep.Address
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("modbus endpoint %q: pool closed", ep.Address)
	}
	c := p.conns[key]
	if c == nil {
		c = &conn{pool: p, key: key, framing: ep.Framing, addr: ep.Address, sem: make(chan struct{}, 1)}
		p.conns[key] = c
	}
	c.refs++
	if int64(ep.Timeout) > c.timeout.Load() {
		c.timeout.Store(int64(ep.Timeout))
	}
	return &Client{c: c, ep: ep}, nil
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	return PoolStats{Conns: n, Open: int(p.open.Load()), Dials: p.dials.Load(), Requests: p.requests.Load()}
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

// backoff is the wait before dial number fails+1.
func (p *Pool) backoff(fails int) time.Duration {
	if fails <= 1 {
		return 0
	}
	d := p.cfg.BackoffMin << min(fails-2, 20)
	d = min(d, p.cfg.BackoffMax)
	return d - d/5 + rand.N(2*d/5+1)
}

// conn is one socket; whoever holds sem owns every field below it.
type conn struct {
	pool    *Pool
	key     string
	framing Framing
	addr    string
	timeout atomic.Int64 // I/O deadline for the next dial
	refs    int          // guarded by pool.mu

	sem      chan struct{}
	link     link // nil when not connected
	used     bool // a request was answered on link
	fails    int  // consecutive failures
	nextDial time.Time
	lastErr  error
	lastUse  time.Time
	idle     *time.Timer
	closed   bool
}

// exec runs fn on the connection, dialing first if needed. A read that
// fails because the peer closed an idle-looking connection is retried
// once on a fresh one, while ctx lasts.
func (c *conn) exec(ctx context.Context, unit uint8, read bool, fn func(context.Context, link) error) (kind, cause error) {
	if c.closed {
		return ErrClosed, nil
	}
	if c.idle != nil {
		c.idle.Stop()
	}
	defer c.armIdle()
	for attempt := 0; ; attempt++ {
		if c.link == nil {
			if err := c.dial(ctx); err != nil {
				return ErrUnreachable, err
			}
		}
		reused := c.used
		if err := c.link.setUnit(unit); err != nil {
			return ErrBadRequest, err
		}
		err := fn(ctx, c.link)
		c.pool.requests.Add(1)
		c.lastUse = time.Now()
		var kind, cause error
		drop := false
		if err != nil {
			kind, cause, drop = classify(err)
		}
		if !drop { // an answer, even an exception, proves the link works
			c.used, c.fails = true, 0
			return kind, cause
		}
		c.pool.log.Debug("dropping connection", "conn", c.key, "unit", unit, "err", err)
		c.drop(err)
		if !(read && reused && attempt == 0 && peerClosed(err)) || ctx.Err() != nil {
			return kind, cause
		}
	}
}

func (c *conn) dial(ctx context.Context) error {
	now := time.Now()
	if now.Before(c.nextDial) {
		return fmt.Errorf("next attempt in %s, last error: %w",
			c.nextDial.Sub(now).Round(time.Millisecond), c.lastErr)
	}
	c.pool.dials.Add(1)
	l, err := c.pool.openLink(ctx, c.framing, c.key, c.addr, time.Duration(c.timeout.Load()))
	if err != nil {
		c.fails++
		c.lastErr = err
		c.nextDial = now.Add(c.pool.backoff(c.fails))
		return err
	}
	c.pool.open.Add(1)
	c.link, c.used = l, false
	return nil
}

func (c *conn) drop(err error) {
	c.close()
	c.fails++
	c.lastErr = err
	c.nextDial = time.Now().Add(c.pool.backoff(c.fails))
}

func (c *conn) close() {
	if c.link != nil {
		_ = c.link.close()
		c.link, c.used = nil, false
		c.pool.open.Add(-1)
	}
}

func (c *conn) armIdle() {
	if c.link == nil || c.closed {
		return
	}
	d := c.pool.cfg.IdleTimeout
	if c.idle == nil {
		c.idle = time.AfterFunc(d, c.idleClose)
		return
	}
	c.idle.Reset(d)
}

// idleClose runs on the idle timer; a busy connection is not idle.
func (c *conn) idleClose() {
	select {
	case c.sem <- struct{}{}:
	default:
		return
	}
	defer func() { <-c.sem }()
	if c.link != nil && time.Since(c.lastUse) >= c.pool.cfg.IdleTimeout {
		c.pool.log.Debug("closing idle connection", "conn", c.key)
		c.close()
	}
}

// shutdown closes for good. A request in flight (perhaps abandoned by
// its caller) may hold the socket until its deadline (the library's
// links cannot be interrupted): then the close happens when it ends.
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

// Shared returns the process-wide pool that drivers built by the registry
// use, so that chargers behind one address share one connection whatever
// driver instance polls them. Tests build their own pools.
func Shared() *Pool { return shared() }

var shared = sync.OnceValue(func() *Pool { return NewPool(PoolConfig{}) })
