package bridge

import (
	"slices"
	"time"

	"github.com/evbridge/evbridge/bridge/solar"
)

// stateTimers is the state file section of the chargers' contactor times:
// a restart does not cut a minimum off time short, grant a fresh minimum
// on time, or allow a phase switch sooner than the switch gap.
const stateTimers = "contactor_timers"

// savedTimer is one charger's entry in that section.
type savedTimer struct {
	ID         string    `json:"id"`
	On         bool      `json:"on"`
	OnSince    time.Time `json:"on_since,omitzero"`
	OffSince   time.Time `json:"off_since,omitzero"`
	LastSwitch time.Time `json:"last_switch,omitzero"`
}

func toSaved(ms []solar.ChargerMemory) []savedTimer {
	out := make([]savedTimer, len(ms))
	for i, m := range ms {
		out[i] = savedTimer{ID: m.ID, On: m.On, OnSince: m.OnSince.UTC(), OffSince: m.OffSince.UTC(), LastSwitch: m.LastSwitch.UTC()}
	}
	return out
}

func fromSaved(ts []savedTimer) []solar.ChargerMemory {
	out := make([]solar.ChargerMemory, len(ts))
	for i, t := range ts {
		out[i] = solar.ChargerMemory{ID: t.ID, On: t.On, OnSince: t.OnSince, OffSince: t.OffSince, LastSwitch: t.LastSwitch}
	}
	return out
}

// loadTimers reads the saved contactor times; nil when there are none.
func (s *siteLoop) loadTimers() []solar.ChargerMemory {
	if s.b.store == nil {
		return nil
	}
	var ts []savedTimer
	if _, err := s.b.store.Load(stateTimers, &ts); err != nil {
		s.b.log.Warn("ignoring saved contactor timers", "err", err)
		return nil
	}
	s.savedTimers = ts
	return fromSaved(ts)
}

// saveTimers writes the contactor times when they changed: at starts,
// stops and phase switches, not every tick.
func (s *siteLoop) saveTimers() {
	if s.b.store == nil {
		return
	}
	ts := toSaved(s.ctrl.Memory().Timers())
	if slices.EqualFunc(ts, s.savedTimers, func(a, b savedTimer) bool {
		return a.ID == b.ID && a.On == b.On && a.OnSince.Equal(b.OnSince) && a.OffSince.Equal(b.OffSince) &&
			a.LastSwitch.Equal(b.LastSwitch)
	}) {
		return
	}
	if err := s.b.store.Save(stateTimers, ts); err != nil {
		s.b.log.Warn("contactor timers not saved", "err", err)
		return
	}
	s.savedTimers = ts
}
