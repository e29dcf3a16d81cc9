package keba

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// timing is the command spacing the UDP Programmers Guide V2.01 §2.1
// requires of every application.
type timing struct {
	udp time.Duration // t_UDP_pause: between any two commands to a station
	com time.Duration // t_COM_pause: between scheduled repeats of one command
	dis time.Duration // t_DIS_pause: after a command that stops charging
}

func defaultTiming() timing {
	return timing{udp: 100 * time.Millisecond, com: 5 * time.Second, dis: 2 * time.Second}
}

// staleMax is how old a cached report may be and still answer a poll while
// the spacing rules forbid asking again (e.g. the 2 s after "ena 0").
const staleMax = 30 * time.Second

// replyMargin is the time an answer needs after a wait for the spacing
// rules; a deadline closer than that fails at once instead (LAN answers
// take milliseconds).
const replyMargin = 250 * time.Millisecond

// errTooSoon: the spacing rules forbid sending now and the caller's
// deadline ends before they would allow it and an answer.
var errTooSoon = errors.New("the station's command spacing does not allow it yet")

// sent records one command text: when it last went out and whether the
// station confirmed it.
type sent struct {
	at time.Time
	ok bool
}

// lock takes the driver's one-exchange-at-a-time token.
func (d *Driver) lock(ctx context.Context) error {
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Driver) unlock() { <-d.sem }

// ensureStation resolves the station's address and claims its datagrams
// on the shared socket. Holds sem.
func (d *Driver) ensureStation(ctx context.Context) error {
	if d.closed {
		return errors.New("driver is closed")
	}
	if d.st != nil {
		return nil
	}
	ip, err := netip.ParseAddr(d.host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip4", d.host)
		if lerr != nil || len(ips) == 0 {
			return fmt.Errorf("resolve %s: %w", d.host, lerr)
		}
		ip = ips[0]
	}
	d.to = netip.AddrPortFrom(ip.Unmap(), d.port)
	st, err := d.conn.subscribe(d.to)
	if err != nil {
		return err
	}
	d.st = st
	return nil
}

// absorb drains datagrams that arrived between exchanges: status messages
// update the cached reports, anything else is a late reply and dropped.
func (d *Driver) absorb() {
	if d.st == nil {
		return
	}
	for {
		select {
		case b := <-d.st.inbox:
			if g := classify(b); g.kind == kindStatus {
				applyStatus(g.fields, d.r2, d.r3)
			}
		default:
			return
		}
	}
}

// slot waits until cmd may go out: t_UDP_pause (t_DIS_pause after a stop)
// since the last command to the station, and t_COM_pause since cmd itself.
func (d *Driver) slot(ctx context.Context, cmd string) error {
	at := d.next
	if s, ok := d.sent[cmd]; ok && s.at.Add(d.t.com).After(at) {
		at = s.at.Add(d.t.com)
	}
	wait := at.Sub(d.now())
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(at.Add(replyMargin)) {
		return fmt.Errorf("%q: %w (%v to wait)", cmd, errTooSoon, wait.Round(time.Millisecond))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exchange sends cmd and waits for its answer: the report with ID report,
// or, for report 0, the station's confirmation. Holds sem.
func (d *Driver) exchange(ctx context.Context, cmd string, report int) (datagram, error) {
	if err := d.ensureStation(ctx); err != nil {
		return datagram{}, err
	}
	d.absorb()
	if err := d.slot(ctx, cmd); err != nil {
		return datagram{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	for k, s := range d.sent { // forget what no rule needs any more
		if d.now().Sub(s.at) > d.t.com {
			delete(d.sent, k)
		}
	}
	err := d.conn.send([]byte(cmd), d.to)
	at := d.now()
	d.sent[cmd] = sent{at: at}
	d.next = at.Add(d.t.udp)
	if stops(cmd) {
		d.next = at.Add(d.t.dis)
	}
	if err != nil {
		return datagram{}, err
	}
	for {
		select {
		case <-ctx.Done():
			return datagram{}, fmt.Errorf("no answer from %s: %w", d.to, ctx.Err())
		case b := <-d.st.inbox:
			g := classify(b)
			switch {
			case g.kind == kindJunk:
				return g, g.err
			case g.kind == kindStatus:
				applyStatus(g.fields, d.r2, d.r3)
			case report == 0 && g.kind == kindAck, g.kind == kindReport && g.id == report:
				d.answered(cmd)
				return g, nil
			case report == 0 && g.kind == kindNack:
				d.answered(cmd)
				d.sent[cmd] = sent{at: d.sent[cmd].at}
				return g, fmt.Errorf("%w: %s", charger.ErrRejected, snippet(g.raw))
			}
			// Anything else is a late answer to an earlier command.
		}
	}
}

// answered counts the spacing from the answer rather than from the send:
// the station cannot have taken the command later than it answered, so
// this holds however long the command took to reach it. Holds sem.
func (d *Driver) answered(cmd string) {
	now := d.now()
	pause := d.t.udp
	if stops(cmd) {
		pause = d.t.dis
	}
	d.next = now.Add(pause)
	d.sent[cmd] = sent{at: now, ok: true}
}

// command sends a setting and waits for "TCH-OK". A text the station
// confirmed less than t_COM_pause ago is not sent again: the station has it,
// and repeating it sooner is what the guide forbids. Holds sem.
func (d *Driver) command(ctx context.Context, cmd string) error {
	if s, ok := d.sent[cmd]; ok && s.ok && d.now().Sub(s.at) < d.t.com {
		return nil
	}
	_, err := d.exchange(ctx, cmd, 0)
	return err
}

// forget makes confirmed settings count as unsent, after the station shows
// it lost them (failsafe, unplug, restart). Holds sem.
func (d *Driver) forget() {
	for k, s := range d.sent {
		if !isReport(k) {
			d.sent[k] = sent{at: s.at}
		}
	}
}

// stops reports whether cmd stops charging, after which the guide wants
// t_DIS_pause of silence ("ena 0", "currtime 0 <t>").
func stops(cmd string) bool {
	var a, b int
	if n, _ := fmt.Sscanf(cmd, "currtime %d %d", &a, &b); n == 2 {
		return a == 0 && b > 0
	}
	return cmd == "ena 0"
}

func isReport(cmd string) bool {
	var n int
	c, _ := fmt.Sscanf(cmd, "report %d", &n)
	return c == 1
}
