package simcar

import (
	"math"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// newCar returns a plugged car on a fake clock with the default timing
// (2 s delay, 1.5 s time constant, 230 V, 16 A, 3 phases).
func newCar(cfg Config) (*Car, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	c := New(cfg)
	c.Plug(true)
	return c, clk
}

func TestIgnoresPilotBelowMinimum(t *testing.T) {
	c, clk := newCar(Config{})
	c.Offer(5.9, 3, true)
	clk.Advance(time.Minute)
	r := c.Read()
	if r.Charging || r.Power != 0 || r.SessionWh != 0 || r.Currents != [3]float64{} {
		t.Fatalf("5.9 A pilot: %+v, want no draw", r)
	}
	c.Offer(MinCurrent, 3, true)
	clk.Advance(time.Minute)
	if r := c.Read(); r.Currents[0] != MinCurrent {
		t.Fatalf("6 A pilot: draws %v A", r.Currents[0])
	}
}

func TestDelayThenRamp(t *testing.T) {
	c, clk := newCar(Config{})
	c.Offer(16, 3, true)
	clk.Advance(1900 * time.Millisecond)
	if r := c.Read(); r.Charging {
		t.Fatalf("drawing %v A before the 2 s reaction delay", r.Currents[0])
	}
	prev := 0.0
	for i := 0; i < 30; i++ { // 3 s of ramp, sampled every 100 ms
		clk.Advance(100 * time.Millisecond)
		r := c.Read()
		if r.Currents[0] < prev {
			t.Fatalf("ramp went down: %v after %v", r.Currents[0], prev)
		}
		prev = r.Currents[0]
	}
	if prev <= 8 || prev >= 16 {
		t.Fatalf("after 3 s of ramp (2 τ) the car draws %v A, want between half and full", prev)
	}
	clk.Advance(15 * time.Second)
	r := c.Read()
	if r.Currents != [3]float64{16, 16, 16} || r.Power != 16*230*3 {
		t.Fatalf("settled: %+v, want 16 A on 3 phases", r)
	}

	// Lowering the offer: the same delay, then down to the new value.
	c.Offer(10, 3, true)
	clk.Advance(time.Second)
	if r := c.Read(); r.Currents[0] != 16 {
		t.Fatalf("reacted before the delay: %v A", r.Currents[0])
	}
	clk.Advance(20 * time.Second)
	if r := c.Read(); r.Currents[0] != 10 {
		t.Fatalf("did not follow down to 10 A: %v", r.Currents[0])
	}
}

func TestStopsAtOnce(t *testing.T) {
	for name, off := range map[string]func(c *Car){
		"disabled":  func(c *Car) { c.Offer(16, 3, false) },
		"pilot 0 A": func(c *Car) { c.Offer(0, 3, true) },
		"unplugged": func(c *Car) { c.Plug(false) },
	} {
		c, clk := newCar(Config{})
		c.Offer(16, 3, true)
		clk.Advance(30 * time.Second)
		off(c)
		clk.Advance(100 * time.Millisecond)
		if r := c.Read(); r.Charging || r.Power != 0 {
			t.Errorf("%s: still drawing %v W", name, r.Power)
		}
	}
}

func TestPhases(t *testing.T) {
	c, clk := newCar(Config{})
	c.Offer(16, 1, true)
	clk.Advance(30 * time.Second)
	r := c.Read()
	if r.Currents != [3]float64{16, 0, 0} || r.Power != 16*230 {
		t.Fatalf("1 phase offered: %+v", r)
	}
	if r.Voltages != [3]float64{230, 230, 230} {
		t.Fatalf("voltages: %v", r.Voltages)
	}
	// A phase switch interrupts charging and restarts the delay.
	c.Offer(16, 3, true)
	clk.Advance(100 * time.Millisecond)
	if r := c.Read(); r.Charging {
		t.Fatalf("still drawing %v right after a phase switch", r.Currents)
	}
	clk.Advance(30 * time.Second)
	if r := c.Read(); r.Currents != [3]float64{16, 16, 16} {
		t.Fatalf("3 phases offered: %v", r.Currents)
	}

	// A single-phase car draws on L1 only, whatever the EVSE switches in.
	one, clk1 := newCar(Config{Phases: 1, MaxCurrent: 32})
	one.Offer(20, 3, true)
	clk1.Advance(30 * time.Second)
	if r := one.Read(); r.Currents != [3]float64{20, 0, 0} || r.Power != 20*230 {
		t.Fatalf("single-phase car: %+v", r)
	}
}

func TestCarMaxCurrent(t *testing.T) {
	c, clk := newCar(Config{MaxCurrent: 10})
	c.Offer(32, 3, true)
	clk.Advance(30 * time.Second)
	if r := c.Read(); r.Currents[0] != 10 {
		t.Fatalf("car limited to 10 A draws %v", r.Currents[0])
	}
}

func TestSessionResetsOnPlug(t *testing.T) {
	c, clk := newCar(Config{BatteryKWh: 100, SoC: 10})
	c.Offer(16, 3, true)
	clk.Advance(time.Hour)
	r := c.Read()
	// An hour at 11.04 kW, less the first seconds of delay and ramp.
	if r.SessionWh < 10900 || r.SessionWh > 11040 || r.TotalWh != r.SessionWh {
		t.Fatalf("after 1 h: session %v Wh total %v Wh", r.SessionWh, r.TotalWh)
	}
	if want := 10 + r.SessionWh/1000; math.Abs(r.SoC-want) > 0.01 {
		t.Fatalf("SoC %v, want %v", r.SoC, want)
	}
	total := r.TotalWh
	c.Plug(false)
	clk.Advance(time.Minute)
	if r := c.Read(); r.Plugged || r.Power != 0 || r.SessionWh != total || r.TotalWh != total {
		t.Fatalf("unplugged: %+v", r)
	}
	c.Plug(true)
	r = c.Read()
	if !r.Plugged || r.SessionWh != 0 || r.TotalWh != total || r.SoC != 10 {
		t.Fatalf("plugged again: session %v total %v soc %v, want 0, %v, 10", r.SessionWh, r.TotalWh, r.SoC, total)
	}
	// Plugging an already plugged car is not a new session.
	clk.Advance(time.Minute)
	before := c.Read().SessionWh
	c.Plug(true)
	if after := c.Read().SessionWh; after != before || before == 0 {
		t.Fatalf("re-plug reset the session: %v -> %v", before, after)
	}
}

func TestStopsWhenFull(t *testing.T) {
	c, clk := newCar(Config{BatteryKWh: 10, SoC: 99}) // 0.1 kWh to go: ~35 s at 11 kW
	c.Offer(16, 3, true)
	clk.Advance(10 * time.Minute)
	r := c.Read()
	if !r.Full || r.Charging || r.Power != 0 || r.SoC != 100 {
		t.Fatalf("full battery: %+v", r)
	}
	if r.SessionWh < 99 || r.SessionWh > 102 {
		t.Fatalf("a 10 kWh battery from 99 %% took %v Wh, want about 100", r.SessionWh)
	}
}

func TestDefaults(t *testing.T) {
	c := New(Config{Phases: 2})
	if c.cfg.Phases != 3 || c.cfg.MaxCurrent != 16 || c.cfg.BatteryKWh != 60 || c.cfg.SoC != 40 ||
		c.cfg.Delay != 2*time.Second || c.cfg.Tau != 1500*time.Millisecond || c.cfg.Voltage != 230 {
		t.Fatalf("defaults: %+v", c.cfg)
	}
	if r := c.Read(); r.Plugged || r.Charging {
		t.Fatalf("a new car is unplugged: %+v", r)
	}
}
