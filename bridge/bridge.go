// Package bridge is evbridge's daemon core: it runs one worker per charger,
// republishes their state on MQTT with Home Assistant discovery, and turns
// MQTT commands into driver calls. It never speaks a device protocol: that
// is the drivers' job, reached through the bridge/charger contract.
package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/store"
	"github.com/evbridge/evbridge/ha"
)

// Options builds a Bridge.
type Options struct {
	Config   *config.Config
	Registry *charger.Registry
	Log      *slog.Logger
	Version  string
	// BackoffMax caps the poll interval of an unreachable charger (30 s).
	BackoffMax time.Duration
	// BirthJitter is the most evbridge waits, at random, before
	// re-announcing after Home Assistant's birth message, so that many
	// bridges do not answer at the same instant (2 s).
	BirthJitter time.Duration
	// CleanupWindow is how long evbridge collects retained discovery
	// configs at start to remove those of chargers no longer configured (2 s).
	CleanupWindow time.Duration
	// Observer receives poll and controller events (metrics); may be nil.
	Observer Observer
	// Meters is the meter driver registry (meter.Default when nil).
	Meters *meter.Registry
	// Store keeps runtime changes across restarts; nil keeps them in memory.
	Store *store.Store
	// ReconnectMax caps the wait between broker reconnect attempts (2 s):
	// the broker is on the LAN, and HA should see state again quickly.
	ReconnectMax time.Duration
}

// Bridge is the running daemon core.
type Bridge struct {
	cfg      *config.Config
	log      *slog.Logger
	version  string
	base     string
	ha       ha.Options
	units    []*unit
	byID     map[string]*unit
	broker   *EmbeddedBroker
	link     *mqttLink
	opts     Options
	started  time.Time
	cleanupO sync.Once

	backoffMax time.Duration

	events hub
	ctx    context.Context
	cancel context.CancelFunc // ends ctx: every worker started by Start
	store  *store.Store

	// tasks counts the goroutines that may still touch devices or the
	// state file, so that Stop returns only after the last of them.
	tasks        sync.WaitGroup
	stopOnce     sync.Once
	serviceStops []func() // of the running services, in start order
	brokerClosed sync.Once
	stopping     bool      // under mu; no new task starts once set
	site         *siteLoop // nil when the controller is off

	unitsMu sync.RWMutex
	pending map[string]Candidate // discovered, not yet accepted, by candidate id

	announceMu sync.Mutex // orders building and publishing discovery configs; taken before mu
	listsMu    sync.Mutex // the same for bridge/info and bridge/discovered
	offerMu    sync.Mutex // one Offer or Accept at a time: each checks, then adds
	offers     *offerQueue

	mu        sync.Mutex
	announced map[string]string // discovery topic → payload last sent
	connected bool
}

// New builds the bridge and its drivers without any I/O.
func New(opts Options) (*Bridge, error) {
	if opts.Config == nil {
		opts.Config = config.Default()
	}
	if opts.Registry == nil {
		opts.Registry = charger.Default
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	setDefault(&opts.BackoffMax, 30*time.Second)
	setDefault(&opts.BirthJitter, 2*time.Second)
	setDefault(&opts.CleanupWindow, 2*time.Second)
	setDefault(&opts.ReconnectMax, 2*time.Second)
	cfg := opts.Config
	b := &Bridge{
		cfg: cfg, log: opts.Log, version: opts.Version, opts: opts,
		base: cfg.MQTT.BaseTopic, byID: map[string]*unit{}, announced: map[string]string{},
		backoffMax: opts.BackoffMax, store: opts.Store, pending: map[string]Candidate{}, offers: newOfferQueue(),
		ha: ha.Options{
			Prefix: cfg.HomeAssistant.Prefix, BaseTopic: cfg.MQTT.BaseTopic, BridgeID: cfg.MQTT.BaseTopic,
			Version: opts.Version, SupportURL: "https://github.com/evbridge/evbridge",
		},
	}
	if cfg.SiteEnabled() {
		b.ha.Site = true
		site, err := newSiteLoop(b)
		if err != nil {
			return nil, err
		}
		b.site = site
	}
	for _, cc := range cfg.Chargers {
		d, ok := opts.Registry.Lookup(cc.Driver)
		if !ok {
			return nil, fmt.Errorf("charger %s: unknown driver %q (known: %s)", cc.Name, cc.Driver, strings.Join(opts.Registry.Names(), ", "))
		}
		u, err := newUnit(b, cc, d)
		if err != nil {
			return nil, err
		}
		b.units = append(b.units, u)
		b.byID[u.id] = u
		u.cfgFromFile = true
	}
	return b, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// BrokerURL is the broker evbridge connects to (the embedded one's address
// once Run has started it).
func (b *Bridge) BrokerURL() string {
	if b.cfg.MQTT.Broker != "" {
		return b.cfg.MQTT.Broker
	}
	if b.broker != nil {
		return b.broker.URL()
	}
	return "tcp://" + b.cfg.MQTT.Embedded.Listen
}

// Start starts the embedded broker when none is configured, the MQTT
// connection and the charger workers, and returns; Run waits for ctx.
func (b *Bridge) Start(ctx context.Context) (err error) {
	b.started = time.Now()
	ctx, b.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil { // undo what started: services, the broker
			b.cancel()
			b.stopServices()
			b.closeBroker()
		}
	}()
	if b.cfg.MQTT.Broker == "" {
		br, err := StartEmbeddedBroker(b.cfg.MQTT.Embedded.Listen, b.log)
		if err != nil {
			return err
		}
		b.broker = br
		b.log.Info("embedded MQTT broker listening", "addr", br.Addr())
	}
	link, err := newMQTTLink(b.cfg.MQTT, mqttSettings{
		BrokerURL:   b.BrokerURL(),
		WillTopic:   b.base + "/bridge/state",
		OnConnect:   func() { b.onConnect(ctx) },
		OnLost:      func(error) { b.setConnected(false) },
		MaxInterval: b.opts.ReconnectMax,
	}, b.log.With("component", "mqtt"))
	if err != nil {
		return err
	}
	b.link = link
	b.spawn(func() { b.offers.run(ctx, func(o queuedOffer) { b.Offer(o.candidate, o.autoAdd) }) })
	if err := b.startServices(ctx); err != nil {
		return err
	}
	b.restoreChargers()
	for _, u := range b.unitList() {
		u.start(ctx)
	}
	b.ctx = ctx // from here on, chargers added at runtime start at once
	link.connect()
	if b.site != nil {
		b.site.start(ctx)
	}
	b.spawn(func() { b.runDiscovery(ctx) })
	return nil
}

// isStopping is true once Stop has begun; changes are refused from then on.
func (b *Bridge) isStopping() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopping
}

// spawn runs f in a goroutine that Stop waits for. Once Stop has begun it
// runs nothing and reports false.
func (b *Bridge) spawn(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return false
	}
	b.tasks.Go(f)
	return true
}

// Run starts the bridge and blocks until ctx ends, then says goodbye on
// MQTT (bridge offline) and stops.
func (b *Bridge) Run(ctx context.Context) error {
	if err := b.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	b.Stop()
	return nil
}

// stopWait bounds how long Stop waits for workers; every blocking call
// they make takes the context, so this is only reached by a bug.
const stopWait = 10 * time.Second

// Stop ends every worker and waits for them (so that no state write
// outlives it), then publishes the bridge as offline and closes the
// connection and the embedded broker. Calling it again does nothing (a
// second call returns once the first has finished).
func (b *Bridge) Stop() { b.stopOnce.Do(b.stop) }

func (b *Bridge) stop() {
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
	done := make(chan struct{})
	go func() {
		b.tasks.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopWait):
		b.log.Error("workers still running after shutdown; stopping anyway", "waited", stopWait)
	}
	b.stopServices()
	if b.link != nil {
		b.link.publishWait(b.base+"/bridge/state", 1, true, []byte("offline"), 2*time.Second)
		b.link.disconnect()
	}
	b.closeBroker()
}

// closeBroker closes the embedded broker once (mochi panics on a second
// Close), whether a failed Start or Stop gets there first.
func (b *Bridge) closeBroker() {
	b.brokerClosed.Do(func() {
		if b.broker != nil {
			_ = b.broker.Close()
		}
	})
}

// Connected reports whether the MQTT connection is up.
func (b *Bridge) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

func (b *Bridge) setConnected(v bool) {
	b.mu.Lock()
	b.connected = v
	b.mu.Unlock()
}

// onConnect runs after every (re)connect: subscriptions and every retained
// message are sent again, because the broker may have lost them.
func (b *Bridge) onConnect(ctx context.Context) {
	subs := []struct {
		topic string
		h     func(string, []byte)
	}{
		{b.base + "/+/set", b.onSet},
		{b.base + "/+/set/+", b.onSet},
		{b.base + "/bridge/request/+", b.onRequest},
		{b.base + "/site/set", b.onSiteSet},
		{b.base + "/site/set/+", b.onSiteSet},
	}
	if b.cfg.HomeAssistant.Discovery {
		subs = append(subs, struct {
			topic string
			h     func(string, []byte)
		}{b.cfg.HomeAssistant.StatusTopic, func(_ string, p []byte) { b.onHAStatus(ctx, p) }})
	}
	for _, s := range subs {
		if err := b.link.subscribe(s.topic, 1, s.h); err != nil {
			b.log.Error("mqtt subscribe failed", "err", err)
		}
	}
	b.link.publish(b.base+"/bridge/state", 1, true, []byte("online"))
	b.publishInfo()
	b.announceAll(true)
	for _, u := range b.unitList() {
		u.republish()
	}
	b.setConnected(true)
	if b.cfg.HomeAssistant.Discovery {
		b.cleanupO.Do(func() { b.spawn(func() { b.removeStaleDiscovery(ctx) }) })
	}
}

// BridgeInfo is the retained JSON on `<base>/bridge/info`.
type BridgeInfo struct {
	Version  string   `json:"version"`
	Chargers []string `json:"chargers"`
	Drivers  []string `json:"drivers"`
	Started  string   `json:"started"`
	Config   any      `json:"config"`
}

func (b *Bridge) publishInfo() {
	b.listsMu.Lock() // the newest list is the last one published
	defer b.listsMu.Unlock()
	info := BridgeInfo{Version: b.version, Chargers: []string{}, Started: b.started.UTC().Format(time.RFC3339), Config: b.cfg.Redacted()}
	drivers := map[string]bool{}
	for _, u := range b.unitList() {
		info.Chargers = append(info.Chargers, u.id)
		drivers[u.driver.Name] = true
	}
	for d := range drivers {
		info.Drivers = append(info.Drivers, d)
	}
	sort.Strings(info.Drivers)
	payload, err := json.Marshal(info)
	if err != nil {
		b.log.Error("encode bridge info", "err", err)
		return
	}
	b.link.publish(b.base+"/bridge/info", 1, true, payload)
}

// logEvent publishes a bridge-level problem on `<base>/bridge/log`.
func (b *Bridge) logEvent(level, msg string, attrs map[string]string) {
	ev := map[string]string{"level": level, "message": msg, "time": time.Now().UTC().Format(time.RFC3339)}
	for k, v := range attrs {
		ev[k] = v
	}
	payload, _ := json.Marshal(ev)
	b.link.publish(b.base+"/bridge/log", 0, false, payload)
}

// onHAStatus re-announces everything after Home Assistant's birth message,
// after a short random wait.
func (b *Bridge) onHAStatus(ctx context.Context, payload []byte) {
	if strings.TrimSpace(string(payload)) != "online" {
		return
	}
	wait := time.Duration(rand.Int64N(int64(b.opts.BirthJitter)))
	b.log.Info("home assistant came online; re-announcing", "after", wait.Round(time.Millisecond))
	b.spawn(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		b.link.publish(b.base+"/bridge/state", 1, true, []byte("online"))
		b.announceAll(true)
		for _, u := range b.unitList() {
			u.republish()
		}
	})
}
