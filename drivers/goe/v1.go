package goe

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// API v1 (driver goe_v1) is for older go-e Chargers (V2 hardware, and V3
// with only "HTTP API v1" switched on in the app). Protocol reference:
// go-e, "go-eCharger API v1", repository goecharger/go-eCharger-API-v1
// @ 0b022d74797af47fb745b387218feccbb22cf057 ("go-eCharger API v1 EN.md").
//
// One poll is one GET /status. A command is one
// GET /mqtt?payload=key=value; the device answers with its whole status,
// and a refused command is one whose value did not change, which is how
// the driver tells success (the document has no error reply). The payload
// is sent as the document writes it, "=" unescaped: values are digits only.
//
// Current: amx, which the document calls "recommended for PV charging":
// it acts like amp but is not written to flash, so the box returns to its
// amp after a reboot. Enable: alw=1/0. API v1 cannot switch phases, so
// goe_v1 is no charger.PhaseSwitcher.
//
// Rate limit: none on the local API; the document recommends 5 s between
// requests, hence the 5 s default poll interval.
//
// Which API: see DetectAPI. There is no auto-detecting driver: New must
// not do I/O, and the core reads a driver's capabilities (phase switching
// in v2 only) from its type once, so the API must be known when the
// driver is built. Pick goe or goe_v1 in the config; DetectAPI tells which
// (a setup or discovery tool calls it), and each driver's error on a 404
// names the other one.
//
// VERIFY on hardware (the document is silent): whether /status lists amx
// and what amp shows after amx was set (the driver accepts either); the
// fw version amx first appeared in (third-party: "firmware > 033",
// hombach/ioBroker.go-e-charger main.js).

func init() {
	charger.Register(charger.Driver{
		Name:                "goe_v1",
		Title:               "go-e Charger (HTTP API v1, older firmware)",
		DefaultPollInterval: 5 * time.Second,
		DefaultPort:         80,
		NewOptions:          func() any { return &Options{} },
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return NewV1(s, o, log)
		},
	})
}

// DriverV1 talks to one go-e Charger over API v1. It is safe for
// concurrent use.
type DriverV1 struct {
	conn
	maxCur float64
	log    *slog.Logger

	mu  sync.Mutex
	ama int // ama seen at the last poll, 0 if unknown
}

// NewV1 builds an API v1 driver for s; it does no I/O.
func NewV1(s charger.Settings, o *Options, log *slog.Logger) (*DriverV1, error) {
	if o == nil {
		o = &Options{}
	}
	c, err := newConn(s, o, "is HTTP API v1 enabled in the app?")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DriverV1{conn: c, maxCur: s.MaxCurrent, log: log.With("driver", "goe_v1", "charger", s.Name)}, nil
}

// Poll reads the charger's state with one GET /status.
func (d *DriverV1) Poll(ctx context.Context) (charger.State, error) {
	body, err := d.fetch(ctx, "/status")
	if err != nil {
		return charger.State{}, fmt.Errorf("goe_v1: read status: %w", err)
	}
	st, err := parseStatusV1(body)
	if err != nil {
		return charger.State{}, fmt.Errorf("goe_v1: read status: %w", err)
	}
	if st.ama != nil {
		d.mu.Lock()
		d.ama = *st.ama
		d.mu.Unlock()
	}
	return st.state(), nil
}

// CurrentRange is 6 A up to ama (seen at the last poll), capped by the
// configured maximum, in 1 A steps.
func (d *DriverV1) CurrentRange() (min, max, step float64) {
	d.mu.Lock()
	ama := d.ama
	d.mu.Unlock()
	return currentRange(ama, d.maxCur)
}

// SetCurrent sets the volatile amx to amps rounded down to whole amperes.
func (d *DriverV1) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, _ := d.CurrentRange()
	a, err := wholeAmps(amps, lo, hi)
	if err != nil {
		return fmt.Errorf("goe_v1: set current %v A: %w", amps, err)
	}
	if err := d.set(ctx, "amx", a); err != nil {
		return fmt.Errorf("goe_v1: set current %d A: %w", a, err)
	}
	return nil
}

// SetEnabled allows (alw=1) or stops (alw=0) charging.
func (d *DriverV1) SetEnabled(ctx context.Context, enabled bool) error {
	v := 0
	if enabled {
		v = 1
	}
	if err := d.set(ctx, "alw", v); err != nil {
		return fmt.Errorf("goe_v1: set enabled %t: %w", enabled, err)
	}
	return nil
}

// Close releases idle connections.
func (d *DriverV1) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

func (d *DriverV1) set(ctx context.Context, key string, value int) error {
	body, err := d.fetch(ctx, "/mqtt?payload="+key+"="+strconv.Itoa(value))
	if err != nil {
		return err
	}
	return checkSetV1(body, key, value)
}

// fetch GETs path and demands 200.
func (d *DriverV1) fetch(ctx context.Context, path string) ([]byte, error) {
	code, body, err := d.get(ctx, path)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, fmt.Errorf("%w: http 404: no %s (HTTP API v1 is off in the app, "+
			"or the charger speaks API v2: driver goe)", charger.ErrBadReply, strings.SplitN(path, "?", 2)[0])
	case code != http.StatusOK:
		return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	return body, nil
}

var (
	_ charger.Charger       = (*DriverV1)(nil)
	_ charger.CurrentSetter = (*DriverV1)(nil)
	_ charger.Enabler       = (*DriverV1)(nil)
	_ charger.Closer        = (*DriverV1)(nil)
)
