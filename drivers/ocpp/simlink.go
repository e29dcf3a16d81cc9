package ocpp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lorenzodonini/ocpp-go/ocpp"
)

// simLink guards the library's client: a call made after Stop hangs in
// ocpp-go (its dispatcher sends on a nil channel), so calls go out only
// while the link is up, and their answers are awaited with the session's
// context.
type simLink struct {
	mu      sync.RWMutex
	stopped bool
	ctx     context.Context
	send    func(ocpp.Request, func(ocpp.Response, error)) error
}

var errLinkDown = errors.New("connection closed")

func (l *simLink) call(req ocpp.Request) (ocpp.Response, error) {
	type result struct {
		resp ocpp.Response
		err  error
	}
	ch := make(chan result, 1)
	l.mu.RLock()
	if l.stopped {
		l.mu.RUnlock()
		return nil, errLinkDown
	}
	err := l.send(req, func(r ocpp.Response, err error) { ch <- result{r, err} })
	l.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-l.ctx.Done():
		return nil, errLinkDown
	}
}

func (l *simLink) stop(stop func()) {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	stop()
}

// callAs makes a call and checks the answer's type.
func callAs[T ocpp.Response](l *simLink, req ocpp.Request) (T, error) {
	var zero T
	resp, err := l.call(req)
	if err != nil {
		return zero, err
	}
	t, ok := resp.(T)
	if !ok {
		return zero, fmt.Errorf("%s: unexpected answer %T", req.GetFeatureName(), resp)
	}
	return t, nil
}

// session runs one connection until it goes; stop tears it down.
func (s *ChargePointSim) session(ctx context.Context, gone <-chan error, l *simLink, stop func(), p simProto) error {
	s.mu.Lock()
	s.connected = true
	s.connects++
	s.status = "" // report the connector again
	s.mu.Unlock()
	if s.cfg.OnConnect != nil {
		s.cfg.OnConnect()
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.ctx = sctx
	var why error
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-sctx.Done():
		case why = <-gone:
		case <-s.drop:
			why = errDropped
		}
		cancel()
		l.stop(stop)
	}()
	s.loop(sctx, p)
	cancel()
	<-done
	return why
}
