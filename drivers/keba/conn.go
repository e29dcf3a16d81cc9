package keba

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// A KEBA answers every command to UDP port 7090, whatever port the command
// came from (UDP Programmers Guide §2.2; evcc and openHAB bind 7090 for the
// same reason). Two sockets on port 7090 cannot both receive, so every KEBA
// charger of the process shares one socket per local address, and the
// socket hands each datagram to the charger whose station sent it: by
// source IP and port when they match a charger exactly (a station answers
// from the port it was asked on, 7090), else by source IP alone when one
// charger has that IP. The exact match lets simulators share one IP.
//
// sockets is therefore a registry, the one piece of package-level mutable
// state in this package (like charger.Default): shared sockets keyed by the
// local address they bind, reference counted. A driver takes a reference in
// New (no I/O), the socket is bound on first use, and the last driver's
// Close removes the entry and closes the socket.
var sockets = &registry{conns: map[string]*sharedConn{}}

type registry struct {
	mu    sync.Mutex
	conns map[string]*sharedConn
}

// acquire returns the shared socket for laddr, creating the entry (not the
// socket) if needed.
func (r *registry) acquire(laddr string, log *slog.Logger) *sharedConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[laddr]
	if c == nil {
		c = &sharedConn{laddr: laddr, reg: r, log: log, stations: map[netip.AddrPort]*station{}}
		r.conns[laddr] = c
	}
	c.refs++
	return c
}

// release drops one reference; the last one closes the socket.
func (r *registry) release(c *sharedConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.refs--
	if c.refs > 0 {
		return
	}
	if r.conns[c.laddr] == c {
		delete(r.conns, c.laddr)
	}
	// Closed under the registry's lock, so that a new entry for the same
	// address cannot try to bind before this socket has let go of it.
	c.close()
}

// sharedConn is one UDP socket shared by the KEBA chargers of the process.
type sharedConn struct {
	laddr string
	reg   *registry
	log   *slog.Logger
	refs  int // guarded by reg.mu

	mu       sync.Mutex
	pc       net.PacketConn
	done     chan struct{} // closed when the reader of pc has stopped
	stations map[netip.AddrPort]*station
}

// station is the receiving end for one KEBA: the datagrams it sent.
type station struct {
	addr  netip.AddrPort
	inbox chan []byte
}

// inboxSize holds a reply plus the status messages a station may push
// around it; older datagrams are dropped first when it is full.
const inboxSize = 16

// subscribe claims the datagrams from a station. Two chargers with one
// address on one socket cannot be told apart, so the second is refused.
func (c *sharedConn) subscribe(addr netip.AddrPort) (*station, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if _, dup := c.stations[addr]; dup {
		return nil, fmt.Errorf("another KEBA charger on local address %s already has the address %s", c.laddr, addr)
	}
	st := &station{addr: addr, inbox: make(chan []byte, inboxSize)}
	c.stations[addr] = st
	return st, nil
}

func (c *sharedConn) unsubscribe(st *station) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stations[st.addr] == st {
		delete(c.stations, st.addr)
	}
}

// lookup finds the station a datagram came from: the exact address, else
// the one station with that IP. Holds c.mu.
func (c *sharedConn) lookup(from netip.AddrPort) *station {
	if st := c.stations[from]; st != nil {
		return st
	}
	var found *station
	for a, st := range c.stations {
		if a.Addr() == from.Addr() {
			if found != nil {
				return nil // several on that IP: only an exact match tells
			}
			found = st
		}
	}
	return found
}

// open binds the socket if it is not bound yet; a failure (port taken) is
// returned to the caller and tried again on the next use.
func (c *sharedConn) open() (net.PacketConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pc != nil {
		return c.pc, nil
	}
	pc, err := net.ListenPacket("udp", c.laddr)
	if err != nil {
		return nil, fmt.Errorf("bind UDP %s (KEBAs answer to this port; is another program using it?): %w", c.laddr, err)
	}
	c.pc, c.done = pc, make(chan struct{})
	go c.read(pc, c.done)
	return pc, nil
}

// localAddr is the bound address, binding first if needed.
func (c *sharedConn) localAddr() (net.Addr, error) {
	pc, err := c.open()
	if err != nil {
		return nil, err
	}
	return pc.LocalAddr(), nil
}

func (c *sharedConn) send(b []byte, to netip.AddrPort) error {
	pc, err := c.open()
	if err != nil {
		return err
	}
	if _, err := pc.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	return nil
}

func (c *sharedConn) close() {
	c.mu.Lock()
	pc, done := c.pc, c.done
	c.pc = nil
	c.mu.Unlock()
	if pc != nil {
		_ = pc.Close()
		<-done
	}
}

// maxDatagram is larger than any report (report 1..3 are a few hundred
// bytes); a longer datagram arrives cut and fails to parse.
const maxDatagram = 4096

// read hands every datagram to the station that sent it until pc closes.
func (c *sharedConn) read(pc net.PacketConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, maxDatagram)
	for {
		n, sender, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Debug("keba: read from the shared socket failed", "err", err)
			time.Sleep(10 * time.Millisecond) // a transient error must not spin
			continue
		}
		ua, ok := sender.(*net.UDPAddr)
		if !ok {
			continue
		}
		from := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
		c.mu.Lock()
		st := c.lookup(from)
		c.mu.Unlock()
		if st == nil {
			c.log.Debug("keba: datagram from an address no charger uses", "from", from, "bytes", n)
			continue
		}
		st.put(append([]byte(nil), buf[:n]...))
	}
}

// put queues a datagram without blocking, dropping the oldest when full.
func (s *station) put(b []byte) {
	for {
		select {
		case s.inbox <- b:
			return
		default:
		}
		select {
		case <-s.inbox:
		default:
		}
	}
}
