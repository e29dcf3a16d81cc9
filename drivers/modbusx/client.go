package modbusx

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
)

// Read reads count registers of table t from addr (FC3 or FC4).
func (cl *Client) Read(ctx context.Context, t Table, addr, count uint16) ([]uint16, error) {
	op := "read " + t.String()
	if t > Input || count == 0 || count > MaxRegisters || int(addr)+int(count) > 0x10000 {
		return nil, &Error{Endpoint: cl.ep.Address, Unit: cl.ep.Unit, Op: op, Addr: addr, Count: count, Kind: ErrBadRequest}
	}
	var out []uint16
	err := cl.do(ctx, op, addr, count, true, func(ctx context.Context, l link) error {
		var err error
		out, err = l.readRegisters(ctx, t, addr, count)
		return err
	})
	if err != nil {
		return nil, err // out may still be written by an abandoned request
	}
	return out, nil
}

// ReadPlan runs every request of p, in order, and returns the registers;
// it stops at the first failure.
func (cl *Client) ReadPlan(ctx context.Context, p *Plan) (*Block, error) {
	b := NewBlock()
	for _, r := range p.reqs {
		regs, err := cl.Read(ctx, r.Table, r.Addr, r.Count)
		if err != nil {
			return nil, err
		}
		b.Put(r.Table, r.Addr, regs)
	}
	return b, nil
}

// WriteSingle writes one holding register with FC6.
func (cl *Client) WriteSingle(ctx context.Context, addr, value uint16) error {
	return cl.do(ctx, "write", addr, 1, false, func(ctx context.Context, l link) error {
		return l.writeRegister(ctx, addr, value)
	})
}

// Write writes consecutive holding registers from addr in one FC16
// request, as devices require for multi-register values.
func (cl *Client) Write(ctx context.Context, addr uint16, regs []uint16) error {
	n := uint16(min(len(regs), 0xffff))
	if len(regs) == 0 || len(regs) > 123 || int(addr)+len(regs) > 0x10000 {
		return &Error{Endpoint: cl.ep.Address, Unit: cl.ep.Unit, Op: "write", Addr: addr, Count: n, Kind: ErrBadRequest}
	}
	regs = slices.Clone(regs) // an abandoned request may outlive the call
	return cl.do(ctx, "write", addr, n, false, func(ctx context.Context, l link) error {
		return l.writeRegisters(ctx, addr, regs)
	})
}

// Client is one unit on a shared connection. Its methods are safe for
// concurrent use; requests queue on the connection.
type Client struct {
	c      *conn
	ep     Endpoint
	closed atomic.Bool
}

// Endpoint returns the endpoint the client was made for.
func (cl *Client) Endpoint() Endpoint { return cl.ep }

// Close releases the client; the last one on a connection closes it.
func (cl *Client) Close() error {
	if !cl.closed.CompareAndSwap(false, true) {
		return nil
	}
	p := cl.c.pool
	p.mu.Lock()
	cl.c.refs--
	last := cl.c.refs == 0 && p.conns[cl.c.key] == cl.c
	if last {
		delete(p.conns, cl.c.key)
	}
	p.mu.Unlock()
	if last {
		cl.c.shutdown()
	}
	return nil
}

// do runs fn with the connection held, bounded by ctx and the request
// timeout. The library has no context: a request that outlives them is
// abandoned to finish (or time out) on its own while the caller returns;
// it keeps the connection busy until then, so order is never broken.
// The ASCII link stops at once when they end.
func (cl *Client) do(ctx context.Context, op string, addr, count uint16, read bool, fn func(context.Context, link) error) error {
	fail := func(kind, cause error) error {
		return &Error{Endpoint: cl.ep.Address, Unit: cl.ep.Unit, Op: op, Addr: addr, Count: count, Kind: kind, Err: cause}
	}
	ctxErr := func(err error) error {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(ErrTimeout, err)
		}
		return fail(err, nil)
	}
	if cl.closed.Load() {
		return fail(ErrClosed, nil)
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
	if err := ctx.Err(); err != nil { // never start a request after ctx is done
		<-c.sem
		return ctxErr(err)
	}
	rctx, cancel := context.WithTimeout(ctx, cl.ep.Timeout)
	defer cancel()
	type result struct{ kind, cause error }
	done := make(chan result, 1)
	go func() {
		k, e := c.exec(rctx, cl.ep.Unit, read, fn)
		<-c.sem // before the caller hears back, so that its Close finds the connection free
		done <- result{k, e}
	}()
	select {
	case r := <-done:
		switch {
		case r.kind == nil:
			return nil
		case ctx.Err() != nil && (r.kind == ErrTimeout || r.kind == ErrConnection || r.kind == ErrUnreachable):
			return ctxErr(ctx.Err()) // the link failed because ctx ended
		}
		return fail(r.kind, r.cause)
	case <-rctx.Done():
		if err := ctx.Err(); err != nil {
			return ctxErr(err)
		}
		return fail(ErrTimeout, nil)
	}
}
