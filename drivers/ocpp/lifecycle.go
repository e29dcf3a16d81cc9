package ocpp

import (
	"context"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// A charge point's life on the central system: connect, boot (or not),
// setup, adoption, disconnect.

// connected is called by a dialect when a charge point connects.
func (cs *CentralSystem) connected(id string, l link, remote string) *Session {
	s := cs.reg.sessionOrNew(id)
	gen := s.connected(l, remote, cs.now())
	if !cs.isKnown(id) {
		cs.offer(s, true)
	}
	cs.background(func(ctx context.Context) { cs.awaitBoot(ctx, s, gen) })
	return s
}

func (cs *CentralSystem) disconnected(id string, l link) {
	s := cs.reg.session(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	gone := s.link == l
	if gone {
		s.link = nil
	}
	s.mu.Unlock()
	if !cs.isKnown(id) {
		cs.offer(s, false)
		if gone {
			// Nobody drives it: forget it, so that identities probed at
			// random do not pile up. The offer keeps what it told.
			cs.reg.forget(id, s)
		}
	}
}

// awaitBoot asks a charge point that connected without a BootNotification
// for one. If it will not send one, a charge point the configuration
// knows is set up anyway: an earlier run of evbridge accepted it.
func (cs *CentralSystem) awaitBoot(ctx context.Context, s *Session, gen uint64) {
	s.mu.Lock()
	seen := s.bootSeen
	s.mu.Unlock()
	timer := time.NewTimer(cs.cfg.BootWait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-seen:
		return
	case <-timer.C:
	}
	l, g := s.current()
	if l == nil || g != gen {
		return
	}
	s.mu.Lock()
	accepted := s.registration == "Accepted"
	s.mu.Unlock()
	if accepted {
		// A reconnect, not a reboot: the charge point is known to this
		// process; only its values are refreshed.
		cs.setup(ctx, s, gen, nil)
		return
	}
	cs.log.Info("charge point connected without BootNotification; asking for one", "charge_point", s.id)
	tctx, cancel := context.WithTimeout(ctx, cs.cfg.CallTimeout)
	err := l.trigger(tctx, triggerBoot, 0)
	cancel()
	if err == nil {
		return
	}
	cs.log.Info("charge point will not send a BootNotification", "charge_point", s.id, "err", err)
	if cs.admitted(s.id) {
		s.mu.Lock()
		s.registration = "Accepted"
		s.mu.Unlock()
		cs.setup(ctx, s, gen, nil)
	}
}

// boot records a BootNotification; it returns the registration status
// and the interval to tell the charge point.
func (cs *CentralSystem) boot(id string, ident charger.Identity) (accepted bool, interval time.Duration) {
	s := cs.reg.sessionOrNew(id)
	accepted = cs.admitted(id)
	s.mu.Lock()
	s.identity, s.lastSeen = ident, cs.now()
	select {
	case <-s.bootSeen:
	default:
		close(s.bootSeen)
	}
	s.registration = "Pending"
	if accepted {
		s.registration = "Accepted"
	}
	written := make(chan struct{}, 1)
	s.bootWritten = written
	gen := s.gen
	s.mu.Unlock()
	cs.log.Info("boot notification", "charge_point", id, "vendor", ident.Brand, "model", ident.Model,
		"serial", ident.Serial, "firmware", ident.Firmware, "accepted", accepted)
	if !cs.isKnown(id) {
		cs.offer(s, true)
	}
	if !accepted {
		return false, pendingRetry
	}
	cs.background(func(ctx context.Context) { cs.setup(ctx, s, gen, written) })
	return true, cs.cfg.HeartbeatInterval
}

// setup configures a freshly accepted charge point once the
// BootNotification's answer is on the wire (a call must not overtake it).
func (cs *CentralSystem) setup(ctx context.Context, s *Session, gen uint64, written <-chan struct{}) {
	if written != nil {
		timer := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-written:
		case <-timer.C:
		}
		timer.Stop()
	}
	l, g := s.current()
	if l == nil || g != gen {
		return
	}
	if c, ok := l.(interface {
		configure(context.Context, *Session)
	}); ok {
		c.configure(ctx, s)
	}
}

// onWritten is told each frame written; a CALLRESULT releases setup.
func (cs *CentralSystem) onWritten(id string, msgType byte) {
	if msgType != '3' {
		return
	}
	if s := cs.reg.session(id); s != nil {
		s.mu.Lock()
		select {
		case s.bootWritten <- struct{}{}:
		default:
		}
		s.mu.Unlock()
	}
}

// onExpect: a driver now drives id. A charge point held Pending is asked
// to boot again, and is accepted this time.
func (cs *CentralSystem) onExpect(id string) {
	s := cs.reg.session(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	l, pending := s.link, s.registration == "Pending"
	s.mu.Unlock()
	if l == nil || !pending {
		return
	}
	cs.log.Info("pending charge point adopted; asking it to boot again", "charge_point", id)
	cs.background(func(ctx context.Context) {
		tctx, cancel := context.WithTimeout(ctx, cs.cfg.CallTimeout)
		defer cancel()
		if err := l.trigger(tctx, triggerBoot, 0); err != nil {
			cs.log.Warn("could not ask the charge point to boot; it is accepted at its next BootNotification",
				"charge_point", id, "err", err)
		}
	})
}

func (cs *CentralSystem) offer(s *Session, online bool) {
	if cs.host == nil {
		return
	}
	s.mu.Lock()
	o := charger.Offer{Driver: "ocpp", Address: s.id, Identity: s.identity, Remote: s.remote,
		Online: online, Pending: cs.cfg.Unknown == UnknownPending}
	if s.link != nil {
		o.Detail = s.link.proto()
	}
	s.mu.Unlock()
	cs.host.Offer(o)
}
