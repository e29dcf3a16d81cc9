package bridge

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// ErrUnknownCharger is returned for a charger id that is not configured.
var ErrUnknownCharger = errors.New("unknown charger")

// ErrStopping is returned for a change asked for while evbridge shuts
// down: it would not be carried out, nor kept.
var ErrStopping = errors.New("evbridge is shutting down; try again once it is back")

// Capabilities says what a charger can be told to do.
type Capabilities struct {
	SetCurrent   bool    `json:"set_current"`
	MinCurrent   float64 `json:"min_current,omitempty"`
	MaxCurrent   float64 `json:"max_current,omitempty"`
	CurrentStep  float64 `json:"current_step,omitempty"`
	Enable       bool    `json:"enable"`
	SwitchPhases bool    `json:"switch_phases"`
}

// ChargerView is one charger as the HTTP API and UI show it.
type ChargerView struct {
	ID           string         `json:"id"`
	Driver       string         `json:"driver"`
	Address      string         `json:"address"`
	Available    bool           `json:"available"`
	Polled       bool           `json:"polled"`
	State        PublishedState `json:"state"`
	Capabilities Capabilities   `json:"capabilities"`
}

func (u *unit) view() ChargerView {
	st, polled, online := u.snapshot()
	v := ChargerView{ID: u.id, Driver: u.driver.Name, Address: u.cfg.HostPort(u.driver.DefaultPort),
		Available: online, Polled: polled, State: st}
	if cs, ok := u.dev.(charger.CurrentSetter); ok {
		v.Capabilities.SetCurrent = true
		v.Capabilities.MinCurrent, v.Capabilities.MaxCurrent, v.Capabilities.CurrentStep = u.currentRange(cs)
	}
	_, v.Capabilities.Enable = u.dev.(charger.Enabler)
	_, v.Capabilities.SwitchPhases = u.dev.(charger.PhaseSwitcher)
	return v
}

// Chargers returns every configured charger, in config order.
func (b *Bridge) Chargers() []ChargerView {
	out := []ChargerView{}
	for _, u := range b.unitList() {
		out = append(out, u.view())
	}
	return out
}

// Charger returns one charger by id.
func (b *Bridge) Charger(id string) (ChargerView, bool) {
	u := b.unit(id)
	if u == nil {
		return ChargerView{}, false
	}
	return u.view(), true
}

// Submit validates and queues a command for charger id, exactly as an MQTT
// `set` does (one code path for MQTT and HTTP). The error says why a
// command was refused; it is also published on `<base>/<id>/error`.
func (b *Bridge) Submit(id string, c Command, source string) error {
	if b.isStopping() {
		return ErrStopping
	}
	u := b.unit(id)
	if u == nil {
		return fmt.Errorf("%w %q", ErrUnknownCharger, id)
	}
	if c.Empty() {
		return errors.New("empty command: set one of current_limit, enabled, phases")
	}
	return u.submit(c, source)
}

// Event is a state change, for live views (server-sent events).
type Event struct {
	Charger   string         `json:"charger"`
	Available bool           `json:"available"`
	State     PublishedState `json:"state"`
}

// hub fans events out to subscribers; a slow subscriber misses events
// rather than slowing the bridge.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// Subscribe returns a channel of state changes and a function to stop.
func (b *Bridge) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 32)
	b.events.mu.Lock()
	if b.events.subs == nil {
		b.events.subs = map[chan Event]struct{}{}
	}
	b.events.subs[ch] = struct{}{}
	b.events.mu.Unlock()
	return ch, func() {
		b.events.mu.Lock()
		delete(b.events.subs, ch)
		b.events.mu.Unlock()
	}
}

func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Observer receives what the bridge does, for metrics. Its methods must
// not block.
type Observer interface {
	// ObservePoll is called after every poll; err is nil on success.
	ObservePoll(charger string, took time.Duration, err error)
	// ObserveDecision is called for every controller decision with the
	// reason's stable code (bridge/solar.Code), which makes a good label.
	ObserveDecision(charger string, current float64, code string)
	// ObserveRemoved is called when a charger is removed at runtime, so
	// that its series do not report a charger that no longer exists.
	ObserveRemoved(charger string)
}

type nopObserver struct{}

func (nopObserver) ObservePoll(string, time.Duration, error) {}
func (nopObserver) ObserveDecision(string, float64, string)  {}
func (nopObserver) ObserveRemoved(string)                    {}

// Site returns the site controller's last state, and false when the
// controller is off or has not decided yet.
func (b *Bridge) Site() (SiteState, bool) {
	if b.site == nil {
		return SiteState{}, false
	}
	b.site.mu.Lock()
	defer b.site.mu.Unlock()
	return b.site.last, b.site.decided
}

// SiteEnabled reports whether the solar and load controller runs.
func (b *Bridge) SiteEnabled() bool { return b.site != nil }

// Ready reports whether the bridge is connected to its broker (for
// /readyz); the config was loaded if the bridge exists.
func (b *Bridge) Ready() bool { return b.Connected() }
