package genericmodbus

import (
	"context"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/abl"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/simcar"
)

func startABLSim(t testing.TB, clock *fakeClock) *abl.Simulator {
	t.Helper()
	s := abl.NewSimulator(abl.SimConfig{Car: simcar.Config{Delay: time.Second, Tau: time.Second, Now: clock.Now}})
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestABLExampleMatchesNative runs examples/abl_em4.yaml and the built-in
// abl_em4 driver on two ABL simulators in lockstep: the same State fields
// on every poll, the same writes for every command.
func TestABLExampleMatchesNative(t *testing.T) {
	clock := newClock()
	simN, simG := startABLSim(t, clock), startABLSim(t, clock)
	_, o := loadExample(t, "abl_em4.yaml")
	native := func(s charger.Settings, pool *modbusx.Pool) (charger.Charger, error) {
		return abl.New(s, abl.DefaultOptions(), nil, pool)
	}
	p := newPair(t, simN.Addr(), simG.Addr(), native, o)
	sims := func(f func(*abl.Simulator)) { f(simN); f(simG) }
	ctx := context.Background()
	setCurrent := func(a float64) func(charger.Charger) error {
		return func(c charger.Charger) error { return c.(charger.CurrentSetter).SetCurrent(ctx, a) }
	}
	enable := func(on bool) func(charger.Charger) error {
		return func(c charger.Charger) error { return c.(charger.Enabler).SetEnabled(ctx, on) }
	}

	st, reads := p.poll(t)
	want := charger.Identity{Brand: "ABL", Model: "eM4"}
	if st.IEC != charger.IECA || st.Identity != want || *st.CurrentLimit != 16 || reads != 2 {
		t.Fatalf("first poll (%d reads): %s", reads, asJSON(st))
	}
	sims(func(s *abl.Simulator) { s.Plug(true) })
	p.poll(t)
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); st.Status != charger.StatusCharging || st.Phases == nil || *st.Phases != 3 {
		t.Fatalf("charging at 16 A: %s", asJSON(st))
	}
	p.do(t, "set 10.5 A", 1, setCurrent(10.5))
	p.do(t, "disable", 1, enable(false))
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); st.Status != charger.StatusPaused || *st.Enabled || st.SessionEnergy == nil {
		t.Fatalf("disabled: %s", asJSON(st))
	}
	p.do(t, "set 12 A while disabled", 1, setCurrent(12))
	p.do(t, "enable", 1, enable(true))
	p.do(t, "40 A", 0, setCurrent(40))
	clock.Add(10 * time.Second)
	if st, _ = p.poll(t); *st.CurrentLimit != 12 || st.Currents[0] != 12 {
		t.Fatalf("enabled at 12 A: %s", asJSON(st))
	}
	sims(func(s *abl.Simulator) { s.SetFault(1, true) })
	if st, _ = p.poll(t); st.IEC != charger.IECF || st.ErrorCode != "F2" || st.ErrorText != "internal error" {
		t.Fatalf("fault: %s", asJSON(st))
	}
	sims(func(s *abl.Simulator) { s.SetFault(1, false) })
	clock.Add(10 * time.Second)
	p.poll(t) // the session restarts after the fault on both
	clock.Add(10 * time.Second)
	p.poll(t)
	sims(func(s *abl.Simulator) { s.Plug(false) })
	if st, _ = p.poll(t); st.IEC != charger.IECA {
		t.Fatalf("unplugged: %s", asJSON(st))
	}
}
