package ocpp

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// BenchmarkSetCurrent measures SetCurrent → SetChargingProfile.conf on
// loopback while the car charges: TxDefaultProfile and TxProfile, two
// round trips. Reports p50 and p99 per call.
func BenchmarkSetCurrent(b *testing.B) {
	for _, proto := range []string{ProtoOCPP16, ProtoOCPP201} {
		b.Run(proto, func(b *testing.B) {
			cfg := testConfig()
			reg, quiet := NewRegistry(), slog.New(slog.DiscardHandler)
			cs, err := NewCentralSystem(cfg, reg, nil, quiet)
			if err != nil {
				b.Fatal(err)
			}
			if err := cs.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cs.Close)
			d, _ := NewWithRegistry(reg, charger.Settings{Name: "bench", Address: "CP1", MaxCurrent: 16}, nil, quiet)
			sc := simConfig("CP1")
			sc.Protocol, sc.Log = proto, quiet
			runSim(b, cs.URL(), sc)
			pollUntil(b, d, "charging", charging)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := d.SetCurrent(context.Background(), float64(8+i%8)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}

// BenchmarkFleet200 connects OCPP_FLEET_N (200) simulated charge points,
// run in a child process so that only the central system is measured,
// with MeterValues every 10 s, and a driver polled every 2 s for each as
// the core would. It reports the central system's CPU share (% of one
// core) and RSS over OCPP_FLEET_WINDOW (30 s).
func BenchmarkFleet200(b *testing.B) {
	if testing.Short() {
		b.Skip("long benchmark")
	}
	n, _ := strconv.Atoi(cmp.Or(os.Getenv("OCPP_FLEET_N"), "200"))
	window, _ := time.ParseDuration(cmp.Or(os.Getenv("OCPP_FLEET_WINDOW"), "30s"))
	cfg := testConfig()
	cfg.MeterInterval, cfg.BootWait, cfg.CallTimeout = 10*time.Second, 5*time.Second, 30*time.Second
	reg, quiet := NewRegistry(), slog.New(slog.DiscardHandler)
	cs, err := NewCentralSystem(cfg, reg, nil, quiet)
	if err != nil {
		b.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	drivers := make([]*Driver, n)
	for i := range drivers {
		drivers[i], _ = NewWithRegistry(reg, charger.Settings{Name: "f", Address: fleetID(i), MaxCurrent: 16}, nil, quiet)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetHelper$")
	cmd.Env = append(os.Environ(), "OCPP_FLEET_URL="+cs.URL(), fmt.Sprintf("OCPP_FLEET_N=%d", n))
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()

	deadline := time.Now().Add(3 * time.Minute)
	for configured(reg) < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d charge points connected and configured", configured(reg), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(15 * time.Second) // let start-up calls and the cars' ramps settle
	stop := make(chan struct{})
	go func() { // the core's polling
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, d := range drivers {
					_, _ = d.Poll(context.Background())
				}
			}
		}
	}()
	b.ResetTimer()
	cpu0, t0, m0 := cpuTime(), time.Now(), cs.meterMsgs.Load()
	time.Sleep(window)
	cpu1, t1, m1 := cpuTime(), time.Now(), cs.meterMsgs.Load()
	close(stop)
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	wall := t1.Sub(t0).Seconds()
	b.ReportMetric(100*(cpu1-cpu0).Seconds()/wall, "cpu-%")
	b.ReportMetric(rssMB(), "rss-MB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(m1-m0)/wall, "meter-msgs/s")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
}

// TestFleetHelper is BenchmarkFleet200's child process: it runs the
// simulated charge points until its stdin closes.
func TestFleetHelper(t *testing.T) {
	url := os.Getenv("OCPP_FLEET_URL")
	if url == "" {
		t.Skip("helper process of BenchmarkFleet200")
	}
	n, _ := strconv.Atoi(os.Getenv("OCPP_FLEET_N"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		cancel()
	}()
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		s := NewChargePointSim(SimConfig{ID: fleetID(i), Plugged: true, Log: slog.New(slog.DiscardHandler),
			ReconnectDelay: time.Second})
		go func() {
			_ = s.Run(ctx, url)
			done <- struct{}{}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
}

func fleetID(i int) string { return fmt.Sprintf("fleet%03d", i) }

func configured(reg *Registry) int {
	n := 0
	for _, si := range reg.Sessions() {
		s := reg.session(si.ID)
		if s.capsNow().measurands != "" && si.Connected {
			n++
		}
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}
