package bridge

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/config"
)

func (b *Bridge) unitList() []*unit {
	b.unitsMu.RLock()
	defer b.unitsMu.RUnlock()
	return append([]*unit(nil), b.units...)
}

func (b *Bridge) unit(id string) *unit {
	b.unitsMu.RLock()
	defer b.unitsMu.RUnlock()
	return b.byID[id]
}

// Candidate is a charger found at runtime (mDNS, probing, or a charge point
// that connected by itself) that is not configured yet.
type Candidate struct {
	// ID is stable for the same device: driver and serial, else address.
	ID       string `json:"id"`
	Driver   string `json:"driver"`
	Address  string `json:"address"`
	Brand    string `json:"brand,omitempty"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	FoundBy  string `json:"found_by"`
	Seen     string `json:"seen"`
}

// ChargerSpec is what a user gives to add a charger at runtime; the same
// checks as the config file apply.
type ChargerSpec struct {
	Name         string  `json:"name" yaml:"name"`
	Driver       string  `json:"driver" yaml:"driver"`
	Address      string  `json:"address" yaml:"address"`
	MaxCurrent   float64 `json:"max_current,omitempty" yaml:"max_current,omitempty"`
	PollInterval string  `json:"poll_interval,omitempty" yaml:"poll_interval,omitempty"`
	Timeout      string  `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// Options is the driver's options block, as in the config file.
	Options map[string]any `json:"options,omitempty" yaml:"options,omitempty"`
}

// toConfig validates spec with the config file's own rules.
func (b *Bridge) toConfig(spec ChargerSpec, source string) (config.Charger, error) {
	doc, err := yaml.Marshal(map[string]any{"chargers": []ChargerSpec{spec}})
	if err != nil {
		return config.Charger{}, fmt.Errorf("encode charger: %w", err)
	}
	cfg, err := config.Parse(doc, source, b.opts.Registry)
	if err != nil {
		return config.Charger{}, err
	}
	return cfg.Chargers[0], nil
}

// AddCharger adds and starts a charger while the bridge runs, and keeps it
// in the state file so a restart keeps it.
func (b *Bridge) AddCharger(spec ChargerSpec) (string, error) {
	if b.isStopping() {
		return "", ErrStopping
	}
	cc, err := b.toConfig(spec, "charger "+spec.Name)
	if err != nil {
		return "", err
	}
	if err := b.addUnit(cc, false); err != nil {
		return "", err
	}
	b.persistChargers()
	b.publishInfo()
	return cc.Name, nil
}

func (b *Bridge) addUnit(cc config.Charger, fromFile bool) error {
	d, ok := b.opts.Registry.Lookup(cc.Driver)
	if !ok {
		return fmt.Errorf("unknown driver %q", cc.Driver)
	}
	u, err := newUnit(b, cc, d)
	if err != nil {
		return err
	}
	u.cfgFromFile = fromFile
	b.unitsMu.Lock()
	if _, dup := b.byID[u.id]; dup {
		b.unitsMu.Unlock()
		return fmt.Errorf("a charger named %q already exists", u.id)
	}
	b.units = append(b.units, u)
	b.byID[u.id] = u
	b.unitsMu.Unlock()
	b.log.Info("charger added", "charger", u.id, "driver", cc.Driver, "address", cc.Address)
	if b.ctx != nil {
		u.start(b.ctx)
		if b.link != nil {
			b.announce(u, false)
		}
	}
	return nil
}

// RemoveCharger stops a charger added at runtime, clears its retained
// topics and its Home Assistant device. Chargers of the config file are
// removed by editing the file.
func (b *Bridge) RemoveCharger(name string) error {
	if b.isStopping() {
		return ErrStopping
	}
	b.unitsMu.Lock()
	u := b.byID[name]
	if u == nil {
		b.unitsMu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownCharger, name)
	}
	if u.cfgFromFile {
		b.unitsMu.Unlock()
		return fmt.Errorf("charger %q comes from the config file %s; remove it there", name, b.cfg.Source)
	}
	delete(b.byID, name)
	for i, x := range b.units {
		if x == u {
			b.units = append(b.units[:i], b.units[i+1:]...)
			break
		}
	}
	b.unitsMu.Unlock()
	u.stopWorker()
	if b.link != nil {
		b.unannounce(u)
		u.clearRetained()
	}
	b.opts.Observer.ObserveRemoved(name)
	b.log.Info("charger removed", "charger", name)
	b.persistChargers()
	b.publishInfo()
	return nil
}

// MoveCharger points a charger at a new address (a DHCP move found by
// discovery): its driver is rebuilt there, keeping its name and history.
func (b *Bridge) MoveCharger(name, address, foundBy string) error {
	if b.isStopping() {
		return ErrStopping
	}
	b.unitsMu.Lock()
	old := b.byID[name]
	if old == nil {
		b.unitsMu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownCharger, name)
	}
	cc := old.cfg
	from := cc.Address
	cc.Address = address
	u, err := newUnit(b, cc, old.driver)
	if err != nil {
		b.unitsMu.Unlock()
		return err
	}
	u.cfgFromFile = old.cfgFromFile
	b.byID[name] = u
	for i, x := range b.units {
		if x == old {
			b.units[i] = u
		}
	}
	b.unitsMu.Unlock()
	old.stopWorker()
	old.retire()
	b.log.Warn("charger moved to a new address; following it", "charger", name, "from", from, "to", address, "found_by", foundBy)
	if b.link != nil {
		b.logEvent("info", fmt.Sprintf("charger %s moved from %s to %s (found by %s)", name, from, address, foundBy), nil)
	}
	if b.ctx != nil {
		u.start(b.ctx)
	}
	if !u.cfgFromFile {
		b.persistChargers()
	}
	return nil
}

var nonID = regexp.MustCompile(`[^a-z0-9_]+`)

// candidateName proposes a topic-safe, stable name: driver and serial.
func candidateName(c Candidate) string {
	base := c.Driver
	if c.Serial != "" {
		base += "_" + c.Serial
	}
	n := strings.Trim(nonID.ReplaceAllString(strings.ToLower(base), "_"), "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Offer takes a charger found at runtime. Known chargers (same driver and
// serial) that moved are followed; new ones are added at once when
// autoAdd, else held as pending on `<base>/bridge/discovered` until a user
// accepts them with a `charger_add` request.
func (b *Bridge) Offer(c Candidate, autoAdd bool) {
	if b.isStopping() {
		return
	}
	b.offerMu.Lock()
	defer b.offerMu.Unlock()
	if c.ID == "" {
		c.ID = c.Driver + ":" + firstNonEmpty(c.Serial, c.Address)
	}
	c.Seen = time.Now().UTC().Format(time.RFC3339)
	for _, u := range b.unitList() {
		st, _, _ := u.snapshot()
		if u.driver.Name == c.Driver && c.Serial != "" && st.Serial == c.Serial {
			if u.cfg.Address != c.Address {
				_ = b.MoveCharger(u.id, c.Address, c.FoundBy)
			}
			return
		}
		if u.driver.Name == c.Driver && u.cfg.Address == c.Address {
			return
		}
	}
	if autoAdd {
		if _, err := b.AddCharger(ChargerSpec{Name: candidateName(c), Driver: c.Driver, Address: c.Address}); err != nil {
			b.log.Warn("could not add a discovered charger", "candidate", c.ID, "err", err)
		}
		return
	}
	b.unitsMu.Lock()
	_, known := b.pending[c.ID]
	b.pending[c.ID] = c
	b.unitsMu.Unlock()
	if !known {
		b.log.Info("charger found; waiting to be accepted", "candidate", c.ID, "address", c.Address, "found_by", c.FoundBy)
	}
	b.publishPending()
}

// Pending returns the chargers waiting to be accepted, sorted by id.
func (b *Bridge) Pending() []Candidate {
	b.unitsMu.RLock()
	out := make([]Candidate, 0, len(b.pending))
	for _, c := range b.pending {
		out = append(out, c)
	}
	b.unitsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Accept adds a pending charger, optionally under another name.
func (b *Bridge) Accept(id, name string) (string, error) {
	if b.isStopping() {
		return "", ErrStopping
	}
	b.offerMu.Lock() // two accepts of one candidate must not both add it
	defer b.offerMu.Unlock()
	b.unitsMu.RLock()
	c, ok := b.pending[id]
	b.unitsMu.RUnlock()
	if !ok {
		return "", fmt.Errorf("no pending charger %q", id)
	}
	if name == "" {
		name = candidateName(c)
	}
	added, err := b.AddCharger(ChargerSpec{Name: name, Driver: c.Driver, Address: c.Address})
	if err != nil {
		return "", err
	}
	b.unitsMu.Lock()
	delete(b.pending, id)
	b.unitsMu.Unlock()
	b.publishPending()
	return added, nil
}

func (b *Bridge) publishPending() {
	if b.link == nil {
		return
	}
	b.listsMu.Lock() // the newest list is the last one published
	defer b.listsMu.Unlock()
	payload, _ := json.Marshal(b.Pending())
	b.link.publish(b.base+"/bridge/discovered", 1, true, payload)
}

// persistedCharger is a runtime-added charger in the state file.
type persistedCharger struct {
	Spec ChargerSpec `json:"spec"`
}

const stateChargers = "chargers"

func (b *Bridge) persistChargers() {
	if b.store == nil {
		return
	}
	err := b.store.Update(stateChargers, func() any {
		var list []persistedCharger
		for _, u := range b.unitList() {
			if !u.cfgFromFile {
				list = append(list, persistedCharger{Spec: u.spec()})
			}
		}
		return list
	})
	if err != nil {
		b.log.Warn("runtime chargers not saved", "err", err)
	}
}

// restoreChargers re-adds the chargers accepted at runtime before a restart.
func (b *Bridge) restoreChargers() {
	if b.store == nil {
		return
	}
	var list []persistedCharger
	if _, err := b.store.Load(stateChargers, &list); err != nil {
		b.log.Warn("ignoring saved runtime chargers", "err", err)
		return
	}
	for _, p := range list {
		cc, err := b.toConfig(p.Spec, "state file "+b.store.Path())
		if err == nil {
			err = b.addUnit(cc, false)
		}
		if err != nil {
			b.log.Warn("a saved charger could not be restored", "charger", p.Spec.Name, "err", err)
		}
	}
}

// spec turns the unit's config back into a ChargerSpec for the state file.
func (u *unit) spec() ChargerSpec {
	s := ChargerSpec{Name: u.cfg.Name, Driver: u.cfg.Driver, Address: u.cfg.Address, MaxCurrent: u.cfg.MaxCurrent,
		PollInterval: u.cfg.PollInterval.String(), Timeout: u.cfg.Timeout.String()}
	if u.cfg.Options != nil {
		// Round-trip through YAML so the keys are the config file's keys.
		if raw, err := yaml.Marshal(u.cfg.Options); err == nil {
			var m map[string]any
			if yaml.Unmarshal(raw, &m) == nil && len(m) > 0 {
				s.Options = m
			}
		}
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
