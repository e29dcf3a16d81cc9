package modbussim

import (
	"fmt"
	"net"
	"sync"
)

// ListenStream serves addr with serve, one goroutine per connection
// (closed when serve returns): the plumbing of a Config.Listen hook for
// a framing the library does not serve (RTU or ASCII over TCP). stop
// closes the listener and every open connection, and waits until every
// serve has returned.
func ListenStream(addr string, serve func(net.Conn)) (bound string, stop func() error, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	g := &streamServer{l: l, serve: serve, conns: map[net.Conn]struct{}{}}
	g.wg.Add(1)
	go g.accept()
	return l.Addr().String(), g.close, nil
}

type streamServer struct {
	l     net.Listener
	serve func(net.Conn)

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (g *streamServer) accept() {
	defer g.wg.Done()
	for {
		conn, err := g.l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns[conn] = struct{}{}
		g.mu.Unlock()
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.serve(conn)
			g.mu.Lock()
			delete(g.conns, conn)
			g.mu.Unlock()
			conn.Close()
		}()
	}
}

func (g *streamServer) close() error {
	err := g.l.Close()
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
	return err
}
