package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// offlineAfter consecutive failed polls mark a charger offline.
const offlineAfter = 3

// unit drives one charger: one goroutine polls it, applies commands and
// refreshes its watchdog, so a slow or dead charger never holds up another.
type unit struct {
	id     string
	cfg    config.Charger
	driver charger.Driver
	dev    charger.Charger
	b      *Bridge
	log    *slog.Logger
	ip     string

	notify chan struct{} // a command is pending
	// cfgFromFile is true for chargers of the config file, false for those
	// added at runtime (persisted in the state file).
	cfgFromFile bool
	stop        context.CancelFunc
	done        chan struct{}

	// pubMu orders every change of state or availability with its
	// publication: held from reading or changing u.state until the
	// message is handed to the broker, so a slower goroutine cannot
	// publish an older state after a newer one (the retained message
	// would stay stale). Taken before mu, never inside it.
	pubMu sync.Mutex
	// removed is set when the charger is removed at runtime: from then on
	// nothing of it is published, whatever goroutine was about to.
	removed atomic.Bool

	mu          sync.Mutex
	pending     Command
	state       PublishedState // last published
	polled      bool           // state holds a real reading
	publishedAt time.Time
	available   *bool
	failures    int
	lowRSSI     time.Time // since when RSSI has been below -75 dBm
	lastError   string
	written     map[string]writtenValue
	ctl         control // the controller's settings, shown in the state
	ctlReason   string
	// reportsSoC: the charger has told a vehicle SoC once; from then on
	// its HA device has a battery sensor (most chargers never know it).
	reportsSoC bool
}

func newUnit(b *Bridge, cfg config.Charger, d charger.Driver) (*unit, error) {
	addr := cfg.HostPort(d.DefaultPort)
	settings := charger.Settings{Name: cfg.Name, Address: addr, Timeout: cfg.Timeout, MaxCurrent: cfg.MaxCurrent}
	log := b.log.With("charger", cfg.Name, "driver", d.Name)
	dev, err := d.New(settings, cfg.Options, log)
	if err != nil {
		return nil, fmt.Errorf("charger %s: %w", cfg.Name, err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = cfg.Address
	}
	if d.CheckAddress != nil {
		host = "" // the address is an identity (OCPP), not a network address
	}
	return &unit{id: cfg.Name, cfg: cfg, driver: d, dev: dev, b: b, log: log, ip: host, notify: make(chan struct{}, 1),
		written: map[string]writtenValue{}}, nil
}

func (u *unit) topic(leaf string) string { return u.b.base + "/" + u.id + "/" + leaf }

// start runs the worker until ctx ends or stopWorker is called.
func (u *unit) start(ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	if !u.b.spawn(func() {
		defer close(done)
		u.run(ctx)
	}) {
		stop()
		return // the bridge is stopping
	}
	u.stop, u.done = stop, done
}

// stopWorker stops the worker and waits for it.
func (u *unit) stopWorker() {
	if u.stop != nil {
		u.stop()
		<-u.done
	}
}

func (u *unit) run(ctx context.Context) {
	defer func() {
		if c, ok := u.dev.(charger.Closer); ok {
			_ = c.Close()
		}
	}()
	poll := time.NewTimer(0)
	defer poll.Stop()
	var refresh <-chan time.Time
	if w, ok := u.dev.(charger.Watchdogged); ok && w.RefreshInterval() > 0 {
		t := time.NewTicker(w.RefreshInterval())
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			u.poll(ctx)
			poll.Reset(u.nextPoll())
		case <-u.notify:
			if u.execute(ctx) {
				// Show the effect at once rather than at the next tick.
				if !poll.Stop() {
					select {
					case <-poll.C:
					default:
					}
				}
				u.poll(ctx)
				poll.Reset(u.nextPoll())
			}
		case <-refresh:
			u.refreshWatchdog(ctx)
		}
	}
}

// nextPoll backs off while the charger does not answer: the first misses
// are retried at the normal interval so "offline" shows quickly, then the
// wait doubles up to the bridge's maximum.
func (u *unit) nextPoll() time.Duration {
	u.mu.Lock()
	f := u.failures
	u.mu.Unlock()
	d := u.cfg.PollInterval
	if f < offlineAfter {
		return d
	}
	for i := offlineAfter; i <= f && d < u.b.backoffMax; i++ {
		d *= 2
	}
	return min(d, max(u.b.backoffMax, u.cfg.PollInterval))
}

func (u *unit) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	start := time.Now()
	st, err := u.dev.Poll(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		err = checkReading(st)
	}
	u.b.opts.Observer.ObservePoll(u.id, time.Since(start), err)
	if err != nil {
		u.pollFailed(err)
		return
	}
	next := newPublishedState(st)
	next.IP = u.ip
	next.PollLatency = math.Round(float64(time.Since(start).Microseconds())/100) / 10
	now := time.Now()
	next.LastSeen = now.UTC().Format(time.RFC3339)

	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	u.mu.Lock()
	wasFailing := u.failures > 0
	u.failures = 0
	if wasFailing && strings.HasPrefix(u.lastError, "poll: ") {
		u.lastError = ""
	}
	next.LastError = u.lastError
	u.fillControl(&next)
	next.LinkProblem = u.rssiProblem(st.RSSI, now)
	becameOnline := u.available == nil || !*u.available
	u.available = charger.Ptr(true)
	identityChanged := !u.polled || u.state.Identity != st.Identity
	if st.VehicleSoC != nil && !u.reportsSoC {
		u.reportsSoC, identityChanged = true, true
	}
	publish := !u.polled || significantChange(u.state, next) || now.Sub(u.publishedAt) >= refreshEvery
	u.polled = true
	if publish {
		u.state, u.publishedAt = next, now
	}
	u.mu.Unlock()

	if becameOnline {
		u.log.Info("charger online")
		u.b.link.publish(u.topic("availability"), 1, true, []byte("online"))
	}
	if identityChanged {
		u.b.announce(u, false)
	}
	if publish {
		u.publishState(next)
	}
}

// rssiProblem is true once RSSI has stayed below -75 dBm for two minutes;
// the caller holds u.mu.
func (u *unit) rssiProblem(rssi *float64, now time.Time) bool {
	if rssi == nil || *rssi >= -75 {
		u.lowRSSI = time.Time{}
		return false
	}
	if u.lowRSSI.IsZero() {
		u.lowRSSI = now
	}
	return now.Sub(u.lowRSSI) >= 2*time.Minute
}

func (u *unit) pollFailed(err error) {
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	u.mu.Lock()
	u.failures++
	f := u.failures
	u.lastError = "poll: " + err.Error()
	goOffline := f >= offlineAfter && (u.available == nil || *u.available)
	if goOffline {
		u.available = charger.Ptr(false)
	}
	var st PublishedState
	changed := u.polled && (!u.state.LinkProblem || u.state.LastError != u.lastError)
	if changed {
		u.state.LinkProblem, u.state.LastError = true, u.lastError
		st = u.state
	}
	u.mu.Unlock()
	if f == 1 || goOffline {
		u.log.Warn("poll failed", "failures", f, "err", err)
	} else {
		u.log.Debug("poll failed", "failures", f, "err", err)
	}
	if goOffline {
		u.log.Warn("charger offline", "after_failures", f)
		u.b.link.publish(u.topic("availability"), 1, true, []byte("offline"))
	}
	if changed {
		u.publishState(st)
	}
}

// checkReading refuses readings no charger can produce, so a confused
// device reply never reaches MQTT or the controller as fact.
func checkReading(s charger.State) error {
	check := func(name string, v *float64, lo, hi float64) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < lo || *v > hi {
			return fmt.Errorf("%w: %s %v outside %v..%v", charger.ErrBadReply, name, *v, lo, hi)
		}
		return nil
	}
	errs := []error{
		check("current_limit", s.CurrentLimit, 0, 1000),
		check("power", s.Power, -1e6, 1e6),
		check("session_energy", s.SessionEnergy, 0, 1e6),
		check("energy_total", s.EnergyTotal, 0, 1e9),
	}
	for i, c := range s.Currents {
		errs = append(errs, check(fmt.Sprintf("currents[%d]", i), &c, -1000, 1000))
	}
	for i, v := range s.Voltages {
		errs = append(errs, check(fmt.Sprintf("voltages[%d]", i), &v, 0, 1000))
	}
	return errors.Join(errs...)
}

func (u *unit) publishState(st PublishedState) {
	if u.removed.Load() {
		return
	}
	payload, err := json.Marshal(st)
	if err != nil {
		u.log.Error("encode state", "err", err)
		return
	}
	u.b.link.publish(u.topic("state"), 0, true, payload)
	_, _, online := u.snapshot()
	u.b.events.publish(Event{Charger: u.id, Available: online, State: st})
}

// republish sends the retained state and availability again (after a
// broker reconnect or a Home Assistant restart).
func (u *unit) republish() {
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	if u.removed.Load() {
		return
	}
	u.mu.Lock()
	st, polled, avail := u.state, u.polled, u.available
	u.mu.Unlock()
	if avail != nil {
		v := "offline"
		if *avail {
			v = "online"
		}
		u.b.link.publish(u.topic("availability"), 1, true, []byte(v))
	}
	if polled {
		u.publishState(st)
	}
}

// clearRetained empties u's retained state and availability once it is
// removed; under pubMu, so no publication in flight can follow it.
func (u *unit) clearRetained() {
	u.removed.Store(true)
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	for _, leaf := range []string{"state", "availability"} {
		u.b.link.publish(u.topic(leaf), 1, true, nil)
	}
}

// retire stops u's publications for good when another unit takes its
// place (a move), and waits for one in flight.
func (u *unit) retire() {
	u.removed.Store(true)
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
}

// snapshot returns the last reading and whether there is one.
func (u *unit) snapshot() (PublishedState, bool, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state, u.polled, u.available != nil && *u.available
}

// fillControl copies the controller's view into st; the caller holds u.mu.
func (u *unit) fillControl(st *PublishedState) {
	if u.b.site == nil {
		return
	}
	st.Mode, st.ControlReason, st.PlanDeparture = u.ctl.Mode, u.ctlReason, u.ctl.PlanDeparture
	st.PlanEnergy = nil
	if u.ctl.PlanEnergy > 0 {
		st.PlanEnergy = charger.Ptr(u.ctl.PlanEnergy)
	}
}

// setControl records the controller's current settings for u and, when
// reason is not empty, its latest reason, and publishes the state if that
// changed it. The settings are read under pubMu, not passed in: a caller
// holding an older copy (the tick, racing a mode command) must not
// publish it after the newer one.
func (u *unit) setControl(reason string) {
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	c := u.b.site.controlOf(u)
	u.mu.Lock()
	u.ctl = c
	if reason != "" {
		u.ctlReason = reason
	}
	if !u.polled {
		u.mu.Unlock()
		return
	}
	prev := u.state
	next := prev
	u.fillControl(&next)
	changed := significantChange(prev, next)
	if changed {
		u.state, u.publishedAt = next, time.Now()
	}
	u.mu.Unlock()
	if changed {
		u.publishState(next)
	}
}
