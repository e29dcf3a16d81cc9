package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchClients is how many clients hit the API at once.
const benchClients = 100

// BenchmarkAPIConcurrent measures API latency with 100 concurrent clients
// on loopback against a real bridge (Mosquitto, go-e simulator). b.N is
// the total number of requests; the run also stops after a minute.
// Reports p50 and p99 latency in ms. Run with e.g.
//
//	go test -run XXX -bench APIConcurrent -benchtime 20000x ./bridge/web/
func BenchmarkAPIConcurrent(b *testing.B) {
	e := startEnv(b, envOptions{})
	e.waitPolled()
	cases := []struct {
		name, method, path, body string
	}{
		{"GET_chargers", "GET", "/api/v1/chargers", ""},
		{"GET_charger", "GET", "/api/v1/chargers/garage", ""},
		{"GET_health", "GET", "/api/v1/health", ""},
		{"POST_command", "POST", "/api/v1/chargers/garage/command", ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { loadRun(b, e, c.method, c.path) })
	}
}

func loadRun(b *testing.B, e *env, method, path string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var next, failed atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				var body io.Reader
				if method == "POST" {
					body = strings.NewReader(fmt.Sprintf(`{"current_limit":%d}`, 6+n%10))
				}
				req, _ := http.NewRequestWithContext(ctx, method, e.url+path, body)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = append(lat[i], time.Since(start))
				if resp.StatusCode >= 300 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		b.Fatal("no request completed")
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(failed.Load()), "failed")
	if f := failed.Load(); f > 0 {
		b.Errorf("%d of %d requests failed", f, len(all))
	}
}
