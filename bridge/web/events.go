package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/evbridge/evbridge/bridge"
)

// metaEvery is how often an event stream carries the slow-changing rest:
// site, pending chargers, broker link, recent errors. It doubles as the
// stream's keep-alive.
const metaEvery = 2 * time.Second

// metaDoc is the `meta` event.
type metaDoc struct {
	Connected bool               `json:"connected"`
	Ready     bool               `json:"ready"`
	Site      siteDoc            `json:"site"`
	Pending   []bridge.Candidate `json:"pending"`
	Chargers  []string           `json:"chargers"`
	Errors    []errorEntry       `json:"errors"`
}

func (s *Server) meta() metaDoc {
	m := metaDoc{Connected: s.b.Connected(), Ready: s.b.Ready(), Site: s.siteNow(), Pending: s.b.Pending(),
		Chargers: []string{}, Errors: s.errs.list()}
	for _, v := range s.b.Chargers() {
		m.Chargers = append(m.Chargers, v.ID)
	}
	return m
}

// events streams server-sent events: `charger` (a bridge.Event, on every
// published state change, and one per charger on connect) and `meta`
// (metaDoc, on connect and every metaEvery).
func (s *Server) events(c echo.Context) error {
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return problem(http.StatusServiceUnavailable, "too-many-streams",
			fmt.Sprintf("%d event streams are open already; close a browser tab", maxStreams))
	}
	ch, unsubscribe := s.b.Subscribe()
	defer unsubscribe()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil {
		return nil
	}
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			s.log.Error("encode event", "event", event, "err", err)
			return true
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	if !send("meta", s.meta()) {
		return nil
	}
	for _, v := range s.b.Chargers() {
		if v.Polled && !send("charger", bridge.Event{Charger: v.ID, Available: v.Available, State: v.State}) {
			return nil
		}
	}
	tick := time.NewTicker(metaEvery)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case ev := <-ch:
			if !send("charger", ev) {
				return nil
			}
		case <-tick.C:
			if !send("meta", s.meta()) {
				return nil
			}
		}
	}
}

// errorEntry is one recent error: a failed poll or a refused or failed
// command, as the charger's last_error showed it.
type errorEntry struct {
	Time    string `json:"time"`
	Charger string `json:"charger"`
	Error   string `json:"error"`
}

// errorLog keeps the latest errors, newest first.
type errorLog struct {
	mu      sync.Mutex
	max     int
	entries []errorEntry
	last    map[string]string
}

func newErrorLog(max int) *errorLog { return &errorLog{max: max, last: map[string]string{}} }

func (l *errorLog) add(charger, msg string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last[charger] == msg {
		return
	}
	l.last[charger] = msg
	if msg == "" {
		return
	}
	e := errorEntry{Time: at.UTC().Format(time.RFC3339), Charger: charger, Error: msg}
	l.entries = append([]errorEntry{e}, l.entries...)
	if len(l.entries) > l.max {
		l.entries = l.entries[:l.max]
	}
}

func (l *errorLog) list() []errorEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]errorEntry{}, l.entries...)
}

// watch records every new last_error the bridge publishes until ctx ends.
func (l *errorLog) watch(ctx context.Context, b Bridge) {
	ch, unsubscribe := b.Subscribe()
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-ch:
			l.add(ev.Charger, ev.State.LastError, time.Now())
		}
	}
}
