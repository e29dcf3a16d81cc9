package modbus200

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/alfen"
	"github.com/evbridge/evbridge/drivers/genericmodbus"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// BenchmarkModbus200 runs the real bridge (embedded broker, Home
// Assistant discovery) with 200 Alfen chargers polled every 2 s, served
// by simulators in a child process, and reports this process's CPU share
// of one core and RSS, and the Modbus requests per poll: once with the
// built-in alfen driver and once with examples/alfen.yaml. Targets:
// < 15 % CPU, < 60 MB RSS.
//
//	go test -run '^$' -bench Modbus200 -benchtime 1x ./bench/modbus200/
//
// EVBRIDGE_BENCH_CHARGERS (200), EVBRIDGE_BENCH_WARMUP (15s) and
// EVBRIDGE_BENCH_WINDOW (60s) change the setup.
func BenchmarkModbus200(b *testing.B) {
	n := envInt(b, "EVBRIDGE_BENCH_CHARGERS", 200)
	warm, window := envDuration(b, "EVBRIDGE_BENCH_WARMUP", 15*time.Second), envDuration(b, "EVBRIDGE_BENCH_WINDOW", time.Minute)
	addrs := startSimHost(b, n)
	cfg, err := config.Load("../../drivers/genericmodbus/examples/alfen.yaml", nil)
	if err != nil {
		b.Fatal(err)
	}
	generic := cfg.Chargers[0].Options.(*genericmodbus.Options)
	nativeOpts := alfen.DefaultOptions()
	for _, tc := range []struct {
		driver string
		opts   any
	}{{"alfen", &nativeOpts}, {genericmodbus.DriverName, generic}} {
		b.Run(tc.driver, func(b *testing.B) {
			for range b.N {
				benchBridge(b, tc.driver, tc.opts, addrs, warm, window)
			}
		})
	}
}

// counted counts a driver's polls; the bench drivers all have these
// capabilities, which it keeps so the core treats them as usual.
type counted struct {
	full
	polls, fails *atomic.Int64
}

type full interface {
	charger.CurrentSetter
	charger.Enabler
	charger.Watchdogged
	charger.Closer
	Poll(ctx context.Context) (charger.State, error)
}

func (c counted) Poll(ctx context.Context) (charger.State, error) {
	st, err := c.full.Poll(ctx)
	c.polls.Add(1)
	if err != nil {
		c.fails.Add(1)
	}
	return st, err
}

func benchBridge(b *testing.B, driver string, opts any, addrs []string, warm, window time.Duration) {
	var polls, fails atomic.Int64
	real, _ := charger.Default.Lookup(driver)
	reg := &charger.Registry{}
	d := real
	d.New = func(s charger.Settings, o any, log *slog.Logger) (charger.Charger, error) {
		c, err := real.New(s, o, log)
		if err != nil {
			return nil, err
		}
		f, ok := c.(full)
		if !ok {
			return nil, fmt.Errorf("%s lacks a capability the bench expects", driver)
		}
		return counted{f, &polls, &fails}, nil
	}
	reg.Add(d)

	runtime.GC()
	before := procStatus(b, "VmRSS")
	cfg := config.Default()
	cfg.MQTT.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(b))
	for i, a := range addrs {
		cfg.Chargers = append(cfg.Chargers, config.Charger{Name: fmt.Sprintf("wb%03d", i), Driver: driver, Address: a,
			MaxCurrent: 16, PollInterval: 2 * time.Second, Timeout: 2 * time.Second, Options: opts})
	}
	ctx, cancel := context.WithCancel(context.Background())
	br, err := bridge.New(bridge.Options{Config: cfg, Registry: reg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); br.Stop() }()

	time.Sleep(warm)
	runtime.GC()
	pool := modbusx.Shared()
	cpu0, t0, p0, f0, r0 := cpuTime(b), time.Now(), polls.Load(), fails.Load(), pool.Stats().Requests
	time.Sleep(window)
	cpu1, t1, p1, f1, r1 := cpuTime(b), time.Now(), polls.Load(), fails.Load(), pool.Stats().Requests
	online := 0
	for _, v := range br.Chargers() {
		if v.Available {
			online++
		}
	}
	rss, peak := procStatus(b, "VmRSS"), procStatus(b, "VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	cpu := 100 * float64(cpu1-cpu0) / float64(t1.Sub(t0))
	perPoll := float64(r1-r0) / float64(max(p1-p0, 1))
	b.ReportMetric(cpu, "cpu%")
	b.ReportMetric(rss, "RSS-MB")
	b.ReportMetric(peak, "peakRSS-MB")
	b.ReportMetric(perPoll, "req/poll")
	b.ReportMetric(float64(p1-p0)/t1.Sub(t0).Seconds(), "polls/s")
	b.Logf("%s: %d chargers (%d online), %s window: CPU %.1f %% of one core, RSS %.1f MB (%.1f MB before the bridge started; "+
		"process peak %.1f; Go heap %.1f MB), "+
		"%.2f requests/poll, %d polls (%d failed), %d goroutines",
		driver, len(addrs), online, t1.Sub(t0).Round(time.Second), cpu, rss, before, peak, float64(ms.HeapInuse)/(1<<20),
		perPoll, p1-p0, f1-f0, runtime.NumGoroutine())
	if online < len(addrs) || f1 > f0 {
		b.Errorf("%d of %d chargers online, %d polls failed in the window", online, len(addrs), f1-f0)
	}
}

// cpuTime is this process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a kB field of /proc/self/status, in MB.
func procStatus(b *testing.B, key string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func envInt(b *testing.B, key string, def int) int {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", key, v)
		}
		return n
	}
	return def
}

func envDuration(b *testing.B, key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("%s=%q: want a duration", key, v)
		}
		return d
	}
	return def
}
