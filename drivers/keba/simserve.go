package keba

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// push sends a status message to the last sender (guide §3.4).
func (s *Simulator) push(r *simRun, m map[string]any) {
	s.mu.Lock()
	to := s.lastFrom
	s.mu.Unlock()
	if len(m) > 0 && to.IsValid() {
		s.send(r, to, mustJSON(m))
	}
}

func (s *Simulator) send(r *simRun, to netip.Addr, b []byte) {
	_, _ = r.pc.WriteTo(b, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(s.cfg.ReplyPort))))
}

// serve takes datagrams one at a time, as the station's single task does.
func (s *Simulator) serve(r *simRun) {
	buf := make([]byte, 1024)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		s.answer(r, strings.TrimSpace(string(buf[:n])), ua.AddrPort().Addr().Unmap())
	}
}

// answer handles one command. Commands that break the guide's spacing
// (§2.1) are dropped and counted: the guide says applications must keep
// it, not what a station does otherwise.
func (s *Simulator) answer(r *simRun, cmd string, from netip.Addr) {
	s.mu.Lock()
	now, wall := s.now(), s.wall()
	s.stats.Datagrams++
	if why := s.pace(cmd, wall); why != "" {
		s.stats.Violations = append(s.stats.Violations, fmt.Sprintf("%q from %s: %s", cmd, from, why))
		s.mu.Unlock()
		return
	}
	fault, delay, on := s.fault, s.slowDelay, s.onCommand
	if fault == FaultSilent {
		s.mu.Unlock()
		return
	}
	if len(s.lastText) > 64 {
		for k, at := range s.lastText {
			if wall.Sub(at) > s.t.com {
				delete(s.lastText, k)
			}
		}
	}
	s.lastAt, s.lastStop, s.lastText[cmd], s.lastFrom = wall, stops(cmd), wall, from
	var n int
	if c, _ := fmt.Sscanf(cmd, "report %d", &n); c == 1 && n >= 1 && n <= 3 {
		s.stats.Reports[n]++
	} else if f := strings.Fields(cmd); len(f) > 0 {
		s.stats.Commands[f[0]]++
	}
	reply := s.dev.handle(cmd, s.cfg, now)
	view := s.dev.view
	s.mu.Unlock()
	if on != nil {
		on(cmd)
	}
	if reply == nil {
		return
	}
	report := reply[0] == '{'
	switch fault {
	case FaultGarbage:
		reply = []byte("\x00\x17\xfe KEBA\x00")
	case FaultBadJSON:
		reply = reply[:len(reply)/2]
	case FaultBadData:
		if report {
			reply = []byte(`{"ID":"` + strings.TrimPrefix(cmd, "report ") + `","State":"charging","Plug":-7,"I1":"lots"}`)
		}
	case FaultRefuse:
		if !report {
			reply = []byte("TCH-ERR :refused")
		}
	case FaultSlow:
		// Late, without holding up the commands behind it: the station's
		// clock for the spacing rules is when a datagram arrives.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
				s.send(r, from, reply)
			case <-r.gone:
			}
		}()
		return
	case FaultNoise:
		s.send(r, from, mustJSON(map[string]any{"Max curr": view.MaxCurr, "State": view.State}))
		s.send(r, from, []byte(`{"ID":"100","Session ID":7,"E pres":0}`))
	}
	s.send(r, from, reply)
}

// pace checks the guide's spacing rules against the last command taken.
// Gaps under half the rule count: clocks and schedulers jitter, an
// application that ignores the rule does not come close.
func (s *Simulator) pace(cmd string, now time.Time) string {
	if !s.lastAt.IsZero() {
		gap := now.Sub(s.lastAt)
		switch {
		case s.lastStop && gap < s.t.dis/2:
			return fmt.Sprintf("%v after a stop command (t_DIS_pause %v)", gap, s.t.dis)
		case gap < s.t.udp/2:
			return fmt.Sprintf("%v after the last command (t_UDP_pause %v)", gap, s.t.udp)
		}
	}
	if at, ok := s.lastText[cmd]; ok && now.Sub(at) < s.t.com/2 {
		return fmt.Sprintf("repeated after %v (t_COM_pause %v)", now.Sub(at), s.t.com)
	}
	return ""
}
