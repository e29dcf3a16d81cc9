package bridge

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/ha"
)

// chargerInfo describes u to the discovery builder: identity from the last
// reading, capabilities from the driver's interfaces.
func (u *unit) chargerInfo() ha.ChargerInfo {
	st, _, _ := u.snapshot()
	id := st.Identity
	if id.Brand == "" {
		id.Brand = u.driver.Title
	}
	info := ha.ChargerInfo{ID: u.id, Identity: id, Address: u.cfg.HostPort(u.driver.DefaultPort)}
	if cs, ok := u.dev.(charger.CurrentSetter); ok {
		info.CanSetCurrent = true
		info.MinCurrent, info.MaxCurrent, info.CurrentStep = u.currentRange(cs)
	}
	_, info.CanEnable = u.dev.(charger.Enabler)
	_, info.CanReset = u.dev.(charger.Resetter)
	if u.b.site != nil {
		info.Modes, info.Plan = modes, true
	}
	_, info.CanSwitchPhases = u.dev.(charger.PhaseSwitcher)
	u.mu.Lock()
	info.VehicleSoC = u.reportsSoC
	u.mu.Unlock()
	return info
}

// announce publishes u's discovery config; unless force, only when it
// differs from what was last sent.
func (b *Bridge) announce(u *unit, force bool) {
	if !b.cfg.HomeAssistant.Discovery || b.link == nil {
		return
	}
	b.send(func() (ha.Message, bool) {
		if u.removed.Load() {
			return ha.Message{}, false // its removal is (being) published
		}
		return ha.ChargerDevice(b.ha, u.chargerInfo()), true
	}, force)
}

// unannounce clears u's retained discovery config, after which announce
// sends nothing for u.
func (b *Bridge) unannounce(u *unit) {
	u.removed.Store(true)
	b.announceMu.Lock()
	defer b.announceMu.Unlock()
	m := ha.Removal(b.ha, ha.ChargerObjectID(b.ha, u.id))
	b.mu.Lock()
	delete(b.announced, m.Topic)
	b.mu.Unlock()
	b.link.publish(m.Topic, m.QoS, m.Retain, m.Payload)
}

func (b *Bridge) announceAll(force bool) {
	if !b.cfg.HomeAssistant.Discovery {
		return
	}
	b.send(func() (ha.Message, bool) { return ha.BridgeDevice(b.ha), true }, force)
	for _, u := range b.unitList() {
		b.announce(u, force)
	}
}

// send builds a discovery message and publishes it, both under
// announceMu: a config built from an older reading (say, before the
// serial was known) must never reach the broker after a newer one, or the
// retained config stays stale while announced says it is current.
func (b *Bridge) send(build func() (ha.Message, bool), force bool) {
	b.announceMu.Lock()
	defer b.announceMu.Unlock()
	m, ok := build()
	if !ok {
		return
	}
	b.mu.Lock()
	// Entities whose key disappeared (a capability changed) are removed
	// explicitly: HA keeps them otherwise.
	m = ha.MergeRemovals([]byte(b.announced[m.Topic]), m)
	same := b.announced[m.Topic] == string(m.Payload)
	b.announced[m.Topic] = string(m.Payload)
	b.mu.Unlock()
	if same && !force {
		return
	}
	b.link.publish(m.Topic, m.QoS, m.Retain, m.Payload)
}

// removeStaleDiscovery clears retained discovery configs this bridge
// published for chargers that are no longer configured, as Zigbee2MQTT
// does: collect retained configs for a moment, then empty the stale ones.
func (b *Bridge) removeStaleDiscovery(ctx context.Context) {
	current := map[string]bool{}
	for _, u := range b.unitList() {
		current[ha.ChargerObjectID(b.ha, u.id)] = true
	}
	bridgeTopic := ha.BridgeDevice(b.ha).Topic
	var mu sync.Mutex
	stale := map[string]bool{}
	filter := b.cfg.HomeAssistant.Prefix + "/device/+/config"
	err := b.link.subscribe(filter, 1, func(topic string, payload []byte) {
		if len(payload) == 0 || topic == bridgeTopic {
			return
		}
		if obj, ok := ha.IsOwnDiscovery(b.ha, topic, payload); ok && !current[obj] {
			mu.Lock()
			stale[obj] = true
			mu.Unlock()
		}
	})
	if err != nil {
		b.log.Warn("could not look for stale discovery configs", "err", err)
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(b.opts.CleanupWindow):
	}
	b.link.unsubscribe(filter)
	mu.Lock()
	defer mu.Unlock()
	for obj := range stale {
		m := ha.Removal(b.ha, obj)
		b.log.Info("removing discovery of a charger that is no longer configured", "object_id", obj, "topic", m.Topic)
		b.link.publish(m.Topic, m.QoS, m.Retain, m.Payload)
	}
}

// splitChargerTopic returns the charger id and the rest of a topic below
// the base topic, e.g. "garage", "set/current_limit".
func (b *Bridge) splitChargerTopic(topic string) (id, rest string, ok bool) {
	prefix := b.base + "/"
	if !strings.HasPrefix(topic, prefix) {
		return "", "", false
	}
	id, rest, ok = strings.Cut(topic[len(prefix):], "/")
	return id, rest, ok
}
