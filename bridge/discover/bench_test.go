package discover

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Benchmarks over namespaces (root needed; they skip otherwise). Run
// with: go test -run XXX -bench . -benchtime 1x ./bridge/discover/

// BenchmarkBrowse20Simulators measures the time from starting a browse
// to having all 20 advertised go-e simulators identified.
func BenchmarkBrowse20Simulators(b *testing.B) {
	lab := newLab(b)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.84.0.1/24", dev, "dev0", "10.84.0.2/24")
	for i := range 20 {
		ip := fmt.Sprintf("10.84.0.%d", 10+i)
		lab.ip("-n", dev, "addr", "add", ip+"/24", "dev", "dev0")
		startGoe(b, lab, dev, ip+":80", fmt.Sprintf("B%02d", i), true)
	}
	time.Sleep(500 * time.Millisecond) // let the initial announcements pass
	o := Options{Timeout: 10 * time.Second, Dial: lab.dialer(cli)}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		var ch <-chan Found
		lab.in(cli, func() (err error) {
			ch, err = Browse(ctx, o)
			return err
		})
		n := 0
		for f := range ch {
			if f.Verified() {
				n++
			}
			if n == 20 {
				total += time.Since(start)
				cancel()
			}
		}
		cancel()
		if n != 20 {
			b.Fatalf("found %d of 20", n)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/20-found")
}

// BenchmarkProbe24With3Simulators probes a /24 holding two go-e and one
// Alfen simulator, with the default concurrency and timeouts; the other
// 250 addresses are silent (no ARP answer), as on a real LAN.
func BenchmarkProbe24With3Simulators(b *testing.B) {
	lab := newLab(b)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.85.0.1/24", dev, "dev0", "10.85.0.2/24")
	for _, ip := range []string{"10.85.0.10", "10.85.0.11", "10.85.0.12"} {
		lab.ip("-n", dev, "addr", "add", ip+"/24", "dev", "dev0")
	}
	startGoe(b, lab, dev, "10.85.0.10:80", "P1", false)
	startGoe(b, lab, dev, "10.85.0.11:80", "P2", false)
	startAlfen(b, lab, dev, "10.85.0.12:502", "P3")
	o := Options{Dial: lab.dialer(cli)}
	b.ResetTimer()
	for range b.N {
		fs, err := Probe(context.Background(), "10.85.0.0/24", o)
		if err != nil {
			b.Fatal(err)
		}
		// dev itself (10.85.0.2) answers too, with nothing: 3 finds.
		if len(fs) != 3 {
			b.Fatalf("found %d, want 3:\n%s", len(fs), dump(fs))
		}
	}
}
