package solar

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecide times one tick for sites of 1, 10 and 50 chargers: modes
// mixed (pv, minpv, now), a site limit that binds, per-line meter currents.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("chargers=%d", n), func(b *testing.B) {
			site := DefaultSite()
			site.PhaseLimit = 20 * float64(n)
			var in Inputs
			modes := []Mode{ModePV, ModePV, ModeMinPV, ModeNow}
			for i := 0; i < n; i++ {
				c := DefaultCharger(fmt.Sprintf("c%d", i))
				c.Mode = modes[i%len(modes)]
				c.Priority = i % 3
				site.Chargers = append(site.Chargers, c)
				in.Chargers = append(in.Chargers, drawing(c.ID, 8, 3))
			}
			in.Grid = GridReading{Power: -3000, HasCurrents: true, Currents: [3]float64{10 * float64(n), 9 * float64(n), 8 * float64(n)}, Valid: true}
			in.PV = Some(8000)
			now := t0
			var mem Memory
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(2 * time.Second)
				in.Grid.Time = now
				_, mem = Decide(in, mem, site, now)
			}
		})
	}
}
