package genericmodbus

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/abl"
	"github.com/evbridge/evbridge/drivers/alfen"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// loadExample reads examples/name with the real config loader and returns
// its charger's definition.
func loadExample(t testing.TB, name string) (config.Charger, Options) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("examples", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Chargers) != 1 || cfg.Chargers[0].Driver != DriverName {
		t.Fatalf("%s: want one %s charger, got %+v", name, DriverName, cfg.Chargers)
	}
	return cfg.Chargers[0], *cfg.Chargers[0].Options.(*Options)
}

// pair drives two identical simulators in lockstep, one with a built-in
// driver and one with an example definition, each behind a recording
// proxy.
type pair struct {
	recN, recG *recorder
	native     charger.Charger
	generic    *Charger
}

// newPair builds the built-in driver with native on simN's proxy and the
// example o on simG's.
func newPair(t *testing.T, simN, simG string, native func(charger.Settings, *modbusx.Pool) (charger.Charger, error), o Options) *pair {
	t.Helper()
	p := &pair{recN: startRecorder(t, simN), recG: startRecorder(t, simG)}
	set := func(addr string) charger.Settings {
		return charger.Settings{Name: "test", Address: addr, Timeout: 3 * time.Second, MaxCurrent: 16}
	}
	var err error
	if p.native, err = native(set(p.recN.Addr()), testPool(t)); err != nil {
		t.Fatal(err)
	}
	if p.generic, err = New(set(p.recG.Addr()), o, nil, testPool(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.native.(charger.Closer).Close(); p.generic.Close() })
	return p
}

func startAlfenSim(t testing.TB, clock *fakeClock) *alfen.Simulator {
	return startAlfenSimValid(t, clock, 0)
}

// startAlfenSimValid starts a simulator whose setpoint holds for validity
// (0: the default 60 s).
func startAlfenSimValid(t testing.TB, clock *fakeClock, validity time.Duration) *alfen.Simulator {
	t.Helper()
	s := alfen.NewSimulator(alfen.SimConfig{Serial: "ACE0287582", Firmware: "6.1.0-4159", Validity: validity,
		Car: simcar.Config{Delay: time.Second, Tau: time.Second, Now: clock.Now}})
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// alfenPair is a pair on two Alfen simulators; switching turns on phase
// switching in both drivers.
type alfenPair struct {
	*pair
	simN, simG *alfen.Simulator
}

func newAlfenPair(t *testing.T, switching bool, simN, simG *alfen.Simulator) *alfenPair {
	t.Helper()
	no := alfen.DefaultOptions()
	no.PhaseSwitching = switching
	_, o := loadExample(t, "alfen.yaml")
	o.Phases.Switching = switching
	native := func(s charger.Settings, pool *modbusx.Pool) (charger.Charger, error) {
		return alfen.New(s, no, nil, pool)
	}
	return &alfenPair{newPair(t, simN.Addr(), simG.Addr(), native, o), simN, simG}
}

// poll polls both drivers and fails on any State field that differs.
// It returns the generic state and the generic driver's read count.
func (p *pair) poll(t *testing.T, skip ...string) (charger.State, int) {
	t.Helper()
	ctx := context.Background()
	sn, errN := p.native.Poll(ctx)
	sg, errG := p.generic.Poll(ctx)
	if errN != nil || errG != nil {
		t.Fatalf("poll: native %v, generic %v", errN, errG)
	}
	if d := diffState(sn, sg, skip...); len(d) > 0 {
		t.Fatalf("native and generic states differ (native != generic):\n%v\nnative  %s\ngeneric %s", d, asJSON(sn), asJSON(sg))
	}
	p.recN.take()
	return sg, len(p.recG.take())
}

// do runs the same command on both drivers and fails unless both
// succeed or both fail and the simulators received the same writes.
func (p *pair) do(t *testing.T, what string, wantWrites int, f func(charger.Charger) error) {
	t.Helper()
	errN, errG := f(p.native), f(p.generic)
	if (errN == nil) != (errG == nil) {
		t.Fatalf("%s: native %v, generic %v", what, errN, errG)
	}
	wn, wg := writes(p.recN.take()), writes(p.recG.take())
	if !slices.Equal(wn, wg) {
		t.Fatalf("%s: writes differ:\nnative  %v\ngeneric %v", what, wn, wg)
	}
	if len(wg) != wantWrites {
		t.Fatalf("%s: %d writes (%v), want %d", what, len(wg), wg, wantWrites)
	}
}

func (p *alfenPair) sims(f func(*alfen.Simulator)) { f(p.simN); f(p.simG) }

func TestAlfenExampleMatchesNative(t *testing.T) {
	clock := newClock()
	p := newAlfenPair(t, true, startAlfenSim(t, clock), startAlfenSim(t, clock))
	ctx := context.Background()
	// The built-in driver reads the identity instead of the temperature
	// on its first poll; the generic one reads both.
	st, _ := p.poll(t, "Temperature")
	want := charger.Identity{Brand: "Alfen", Model: "NG910", Serial: "ACE0287582", Firmware: "6.1.0-4159"}
	if st.Identity != want || st.IEC != charger.IECA || st.Temperature == nil {
		t.Fatalf("first poll: %+v", st)
	}
	if _, reads := p.poll(t); reads != 3 || p.generic.RequestsPerPoll() != 3 {
		t.Fatalf("a poll took %d reads (planned %d), want 3", reads, p.generic.RequestsPerPoll())
	}

	p.sims(func(s *alfen.Simulator) { s.Plug(true) })
	if st, _ = p.poll(t); st.Status != charger.StatusConnected || !*st.Enabled {
		t.Fatalf("plugged in on the safe current: %+v", st)
	}
	p.do(t, "set 10 A", 1, func(c charger.Charger) error { return c.(charger.CurrentSetter).SetCurrent(ctx, 10) })
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); st.Status != charger.StatusCharging || *st.CurrentLimit != 10 || st.Currents[0] != 10 {
		t.Fatalf("charging at 10 A: %+v", st)
	}
	p.do(t, "disable", 1, func(c charger.Charger) error { return c.(charger.Enabler).SetEnabled(ctx, false) })
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); st.Status != charger.StatusPaused || *st.Enabled || st.SessionEnergy == nil {
		t.Fatalf("disabled: %+v", st)
	}
	p.do(t, "set 12 A while disabled", 1, func(c charger.Charger) error {
		return c.(charger.CurrentSetter).SetCurrent(ctx, 12)
	})
	p.do(t, "enable", 1, func(c charger.Charger) error { return c.(charger.Enabler).SetEnabled(ctx, true) })
	p.do(t, "refresh", 1, func(c charger.Charger) error { return c.(charger.Watchdogged).Refresh(ctx) })
	if n, g := p.native.(charger.Watchdogged).RefreshInterval(), p.generic.RefreshInterval(); n != g {
		t.Fatalf("refresh interval: native %s, generic %s", n, g)
	}
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); *st.CurrentLimit != 12 || st.Status != charger.StatusCharging {
		t.Fatalf("enabled at 12 A: %+v", st)
	}
	p.do(t, "1 phase", 1, func(c charger.Charger) error { return c.(charger.PhaseSwitcher).SetPhases(ctx, 1) })
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); *st.Phases != 1 {
		t.Fatalf("1 phase: %+v", st)
	}
	p.do(t, "3 phases", 1, func(c charger.Charger) error { return c.(charger.PhaseSwitcher).SetPhases(ctx, 3) })
	p.do(t, "2 phases", 0, func(c charger.Charger) error { return c.(charger.PhaseSwitcher).SetPhases(ctx, 2) })
	p.do(t, "40 A", 0, func(c charger.Charger) error { return c.(charger.CurrentSetter).SetCurrent(ctx, 40) })
	clock.Add(10 * time.Second)
	p.poll(t)

	p.sims(func(s *alfen.Simulator) { s.SetFault(1, true) })
	if st, _ = p.poll(t); st.IEC != charger.IECF || st.ErrorCode != "F" {
		t.Fatalf("fault: %+v", st)
	}
	p.sims(func(s *alfen.Simulator) { s.SetFault(1, false); s.Plug(false) })
	if st, _ = p.poll(t); st.IEC != charger.IECA || st.ErrorCode != "" {
		t.Fatalf("unplugged: %+v", st)
	}
}

// TestAlfenExampleAdopts: restarted drivers keep alive a setpoint the
// station still uses, and write nothing when it has none.
func TestAlfenExampleAdopts(t *testing.T) {
	clock := newClock()
	simN, simG := startAlfenSim(t, clock), startAlfenSim(t, clock)
	ctx := context.Background()
	fresh := newAlfenPair(t, false, simN, simG)
	fresh.poll(t, "Temperature")
	fresh.do(t, "refresh with no setpoint known", 0, func(c charger.Charger) error {
		return c.(charger.Watchdogged).Refresh(ctx)
	})
	fresh.do(t, "set 11 A", 1, func(c charger.Charger) error { return c.(charger.CurrentSetter).SetCurrent(ctx, 11) })

	restarted := newAlfenPair(t, false, simN, simG)
	restarted.poll(t, "Temperature")
	restarted.do(t, "refresh of the adopted setpoint", 1, func(c charger.Charger) error {
		return c.(charger.Watchdogged).Refresh(ctx)
	})
	if s := simG.Snapshot().Sockets[0]; s.Setpoint != 11 || !s.SetpointValid {
		t.Fatalf("simulator after the refresh: %+v", s)
	}
}

// TestAlfenExampleIgnoresExpiredSetpoint: a setpoint the station no
// longer uses (its validity ran out) is not adopted, so neither driver
// writes it back on its own.
func TestAlfenExampleIgnoresExpiredSetpoint(t *testing.T) {
	clock := newClock()
	simN, simG := startAlfenSimValid(t, clock, time.Second), startAlfenSimValid(t, clock, time.Second)
	ctx := context.Background()
	first := newAlfenPair(t, false, simN, simG)
	first.do(t, "set 11 A", 1, func(c charger.Charger) error { return c.(charger.CurrentSetter).SetCurrent(ctx, 11) })
	waitFor(t, "the validity to expire", func() bool {
		return !simN.Snapshot().Sockets[0].SetpointValid && !simG.Snapshot().Sockets[0].SetpointValid
	})
	restarted := newAlfenPair(t, false, simN, simG)
	restarted.poll(t, "Temperature")
	restarted.do(t, "refresh with an expired setpoint", 0, func(c charger.Charger) error {
		return c.(charger.Watchdogged).Refresh(ctx)
	})
}

// TestExampleCapabilities: the registry builds each example with the
// entities (capabilities and current range) of its built-in driver.
func TestExampleCapabilities(t *testing.T) {
	alfenSwitching := alfen.DefaultOptions()
	alfenSwitching.PhaseSwitching = true
	ablDefault := abl.DefaultOptions()
	cases := []struct {
		example, driver string
		opts            any
		edit            func(*Options)
	}{
		{"alfen.yaml", "alfen", ptr(alfen.DefaultOptions()), nil},
		{"alfen.yaml", "alfen", &alfenSwitching, func(o *Options) { o.Phases.Switching = true }},
		{"abl_em4.yaml", "abl_em4", &ablDefault, nil},
	}
	for _, tc := range cases {
		cc, o := loadExample(t, tc.example)
		if tc.edit != nil {
			tc.edit(&o)
		}
		s := charger.Settings{Name: cc.Name, Address: cc.HostPort(502), Timeout: cc.Timeout, MaxCurrent: cc.MaxCurrent}
		build := func(name string, opts any) charger.Charger {
			d, ok := charger.Default.Lookup(name)
			if !ok {
				t.Fatalf("driver %s not registered", name)
			}
			c, err := d.New(s, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.(charger.Closer).Close() })
			return c
		}
		n, g := build(tc.driver, tc.opts), build(DriverName, &o)
		caps := func(c charger.Charger) [4]bool {
			_, cs := c.(charger.CurrentSetter)
			_, en := c.(charger.Enabler)
			_, ph := c.(charger.PhaseSwitcher)
			w, wd := c.(charger.Watchdogged)
			return [4]bool{cs, en, ph, wd && w.RefreshInterval() > 0}
		}
		if caps(n) != caps(g) {
			t.Fatalf("%s: capabilities native %v, generic %v", tc.example, caps(n), caps(g))
		}
		nl, nh, ns := n.(charger.CurrentSetter).CurrentRange()
		gl, gh, gs := g.(charger.CurrentSetter).CurrentRange()
		if nl != gl || nh != gh || ns != gs {
			t.Fatalf("%s: current range native %v..%v/%v, generic %v..%v/%v", tc.example, nl, nh, ns, gl, gh, gs)
		}
	}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func exampleNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}
