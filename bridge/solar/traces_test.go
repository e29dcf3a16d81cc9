package solar

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The testdata/*.csv traces drive Decide tick by tick (2 s) with a fake
// clock and a simple car per charger (it draws what it was offered one
// tick before, on the offered phases). Columns:
//
//	t       seconds since the start; a row holds until the next one
//	house   house load, W: a total (meter without per-line currents) or
//	        "l1/l2/l3" (the meter then reports per-line currents)
//	pv      PV power, W (spread evenly over the lines)
//	bat     home battery, W, + discharging (empty: no battery)
//	soc     battery SoC, % (empty: unknown)
//	meter   ok | nan | missing | absurd | stale (timestamp frozen)
//	expect  space-separated id=amps/phases[:code], checked at that tick
//
// Lines starting with # are comments.
type traceRow struct {
	t       int
	house   [3]float64
	perLine bool
	pv      float64
	bat     Optional
	soc     Optional
	meter   string
	expect  []traceExpect
	line    int
}

type traceExpect struct {
	id     string
	amps   float64
	phases int
	code   Code
}

var traceStart = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

func readTrace(t *testing.T, name string) []traceRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []traceRow
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "t,") {
			continue
		}
		c := strings.Split(text, ",")
		if len(c) != 7 {
			t.Fatalf("%s:%d: %d columns, want 7", name, n, len(c))
		}
		r := traceRow{line: n, meter: c[5]}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s:%d: %q: %v", name, n, s, err)
			}
			return v
		}
		r.t = int(num(c[0]))
		if parts := strings.Split(c[1], "/"); len(parts) == 3 {
			r.perLine = true
			for i, p := range parts {
				r.house[i] = num(p)
			}
		} else {
			r.house[0] = num(c[1])
		}
		r.pv = num(c[2])
		if c[3] != "" {
			r.bat = Some(num(c[3]))
		}
		if c[4] != "" {
			r.soc = Some(num(c[4]))
		}
		for _, e := range strings.Fields(c[6]) {
			id, rest, _ := strings.Cut(e, "=")
			rest, code, _ := strings.Cut(rest, ":")
			a, p, _ := strings.Cut(rest, "/")
			r.expect = append(r.expect, traceExpect{id: id, amps: num(a), phases: int(num(p)), code: Code(code)})
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 || rows[0].t != 0 {
		t.Fatalf("%s: no rows, or the first is not at t=0", name)
	}
	return rows
}

// runTrace replays rows through Decide and checks every expectation; it
// returns the decisions per tick for further checks.
func runTrace(t *testing.T, name string, site Site, switchable bool) []Decision {
	t.Helper()
	rows := readTrace(t, name)
	site = site.withDefaults()
	v := site.Voltage
	cars := make([]*SimpleCar, len(site.Chargers))
	last := make([]ChargerDecision, len(site.Chargers))
	for i, c := range site.Chargers {
		cars[i] = &SimpleCar{Voltage: v}
		cars[i].Plug(true)
		last[i].Phases = c.Phases
	}
	var mem Memory
	var out []Decision
	var good GridReading
	ri := 0
	end := rows[len(rows)-1].t
	for sec := 0; sec <= end; sec += 2 {
		for ri+1 < len(rows) && rows[ri+1].t <= sec {
			ri++
		}
		r := rows[ri]
		now := traceStart.Add(time.Duration(sec) * time.Second)
		in := Inputs{PV: Some(r.pv), BatteryPower: r.bat, BatterySoC: r.soc}
		var carW float64
		var lineA [3]float64
		for i, c := range cars {
			p, amps, session, _ := c.Draw()
			cfg := site.Chargers[i]
			carW += p
			for k, a := range amps {
				l := k
				if last[i].Phases == 1 {
					l = oneLine(&cfg)
				}
				lineA[l] += a
			}
			in.Chargers = append(in.Chargers, ChargerState{ID: cfg.ID, Connected: true, Charging: p > 0,
				Enabled: last[i].Enabled, Power: p, Currents: amps, HasCurrents: true, Setpoint: last[i].Current,
				Phases: last[i].Phases, CanSwitchPhases: switchable, SessionEnergy: session})
		}
		house := r.house[0] + r.house[1] + r.house[2]
		g := GridReading{Power: house + carW - r.pv - r.bat.Value, Time: now, Valid: true}
		if r.perLine {
			g.HasCurrents = true
			for l := range g.Currents {
				g.Currents[l] = r.house[l]/v + lineA[l] - r.pv/3/v
			}
		}
		switch r.meter {
		case "ok":
			good = g
		case "nan":
			g.Power = math.NaN()
		case "missing":
			g = GridReading{}
		case "absurd":
			g.Power = 2e6
		case "stale":
			g = good
		default:
			t.Fatalf("%s:%d: meter %q", name, r.line, r.meter)
		}
		in.Grid = g
		d, m := Decide(in, mem, site, now)
		mem = m
		out = append(out, d)
		if sec == r.t {
			for _, e := range r.expect {
				cd, ok := find(d, e.id)
				if !ok {
					t.Fatalf("%s:%d: no decision for %s", name, r.line, e.id)
				}
				if math.Abs(cd.Current-e.amps) > 1e-6 || cd.Phases != e.phases || (e.code != "" && cd.Reason.Code != e.code) {
					t.Errorf("%s:%d t=%d: %s = %g A/%dp %s (%q), want %g A/%dp %s",
						name, r.line, sec, e.id, cd.Current, cd.Phases, cd.Reason.Code, cd.Reason, e.amps, e.phases, e.code)
				}
			}
		}
		for i, c := range cars {
			last[i] = d.Chargers[i]
			c.Offer(last[i].Current, last[i].Phases, last[i].Enabled)
			c.Advance(2 * time.Second)
		}
	}
	return out
}

func find(d Decision, id string) (ChargerDecision, bool) {
	for _, c := range d.Chargers {
		if c.ID == id {
			return c, true
		}
	}
	return ChargerDecision{}, false
}

func siteWith(mod func(*Site), chargers ...Charger) Site {
	s := DefaultSite()
	s.Chargers = chargers
	if mod != nil {
		mod(&s)
	}
	return s
}

func charger(id string, mod func(*Charger)) Charger {
	c := DefaultCharger(id)
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestTraces(t *testing.T) {
	now := func(c *Charger) { c.Mode = ModeNow }
	onePhaseL2 := func(c *Charger) { c.Mode, c.Phases, c.Line = ModeNow, 1, 2 }
	for _, tc := range []struct {
		file       string
		site       Site
		switchable bool
	}{
		{"step_up.csv", siteWith(nil, charger("c1", nil)), true},
		{"cloud_dip.csv", siteWith(nil, charger("c1", nil)), true},
		{"start_stop.csv", siteWith(nil, charger("c1", nil)), true},
		{"phase_switch.csv", siteWith(nil, charger("c1", nil)), true},
		{"battery.csv", siteWith(func(s *Site) { s.BatteryPrioritySoC = 50 }, charger("c1", nil)), true},
		{"meter_loss.csv", siteWith(nil, charger("c1", nil), charger("c2", now)), false},
		{"fuse_now.csv", siteWith(func(s *Site) { s.PhaseLimit = 35 },
			charger("c1", now), charger("c2", now), charger("c3", onePhaseL2)), false},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".csv"), func(t *testing.T) {
			if err := tc.site.Validate(); err != nil {
				t.Fatal(err)
			}
			runTrace(t, tc.file, tc.site, tc.switchable)
		})
	}
}
