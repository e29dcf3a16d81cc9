package generichttp

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/goe"
)

// counting counts the requests a driver sends.
type counting struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// BenchmarkPoll polls the go-e simulator through the shipped goe
// definition and reports the HTTP requests a poll sends.
func BenchmarkPoll(b *testing.B) {
	s := startGoe(b, goe.SimConfig{Plugged: true})
	c, err := New(charger.Settings{Address: s.Addr(), Timeout: 2 * time.Second}, &Options{Builtin: "goe"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	d := unwrap(c)
	defer d.Close()
	var n atomic.Int64
	d.client.Transport = counting{d.client.Transport, &n}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.Load())/float64(b.N), "requests/poll")
}

// BenchmarkPollNative is the goe driver on the same simulator, for
// comparison.
func BenchmarkPollNative(b *testing.B) {
	s := startGoe(b, goe.SimConfig{Plugged: true})
	d, err := goe.New(charger.Settings{Address: s.Addr(), Timeout: 2 * time.Second}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkState is the mapping alone: one decoded reply onto the state.
func BenchmarkState(b *testing.B) {
	p := goeProgram(b)
	docs := []any{decoded(b, replyCharging)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.state(docs); err != nil {
			b.Fatal(err)
		}
	}
}
