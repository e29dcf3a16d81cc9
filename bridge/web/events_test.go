package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/web"
)

type sse struct {
	event string
	data  []byte
}

// openStream reads server-sent events from url into a channel until the
// test ends.
func openStream(t *testing.T, url string) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	out := make(chan sse, 256)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				cur.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				cur.data = []byte(line[len("data: "):])
			case line == "" && cur.event != "":
				select {
				case out <- cur:
				case <-ctx.Done():
					return
				}
				cur = sse{}
			}
		}
	}()
	return out
}

// next returns the first event of that name for which ok holds.
func next(t *testing.T, ch <-chan sse, name string, ok func([]byte) bool) []byte {
	t.Helper()
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("stream ended before a %s event", name)
			}
			if ev.event == name && ok(ev.data) {
				return ev.data
			}
		case <-contextTimeout(t):
			t.Fatalf("no %s event", name)
		}
	}
}

func contextTimeout(t *testing.T) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx.Done()
}

func TestEvents(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.waitPolled()
	ch := openStream(t, e.url+"/api/v1/events")
	meta := next(t, ch, "meta", func([]byte) bool { return true })
	var m struct {
		Connected bool
		Chargers  []string
		Pending   []bridge.Candidate
		Errors    []any
	}
	if err := json.Unmarshal(meta, &m); err != nil || !m.Connected || len(m.Chargers) != 1 || m.Pending == nil || m.Errors == nil {
		t.Fatalf("meta: %v %s", err, meta)
	}
	first := next(t, ch, "charger", func([]byte) bool { return true })
	if !strings.Contains(string(first), `"charger":"garage"`) {
		t.Fatalf("first charger event: %s", first)
	}
	if r := post(t, cmdURL(e, "garage"), `{"current_limit":8}`); r.status != 202 {
		t.Fatal(r.status)
	}
	next(t, ch, "charger", func(d []byte) bool {
		var ev bridge.Event
		return json.Unmarshal(d, &ev) == nil && ev.State.CurrentLimit != nil && *ev.State.CurrentLimit == 8
	})
	// A refused command shows as the charger's last error, in the state
	// and in the recent errors.
	post(t, cmdURL(e, "garage"), `{"current_limit":40}`).problem(t, 422, "max_current")
	next(t, ch, "meta", func(d []byte) bool { return strings.Contains(string(d), "40 A is above") })
	var health struct {
		RecentErrors []map[string]string `json:"recent_errors"`
	}
	do(t, "GET", e.url+"/api/v1/health", nil).json(t, &health)
	if len(health.RecentErrors) == 0 || health.RecentErrors[0]["charger"] != "garage" {
		t.Errorf("recent errors: %+v", health.RecentErrors)
	}
}

func TestReadyzHidesBrokerCredentials(t *testing.T) {
	srv, err := web.New(web.Options{Bridge: stubBridge{}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/readyz", nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), "tcp://127.0.0.1:1883") {
		t.Errorf("readyz: %d %s", rec.Code, rec.Body)
	}
}

// An event stream outlives the server's read timeout, which bounds slow
// request bodies only (net/http clears the deadline once a body is read).
func TestEventStreamOutlivesReadTimeout(t *testing.T) {
	srv, err := web.New(web.Options{Bridge: stubBridge{}})
	if err != nil {
		t.Fatal(err)
	}
	web.SetReadTimeout(srv, 100*time.Millisecond)
	url := serve(t, context.Background(), srv)
	ch := openStream(t, url+"/api/v1/events")
	next(t, ch, "meta", func([]byte) bool { return true })
	// The next meta event comes after metaEvery (2 s), long after 100 ms.
	next(t, ch, "meta", func([]byte) bool { return true })
}
