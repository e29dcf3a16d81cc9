// Package goe drives go-e Chargers (HOME+/V3, Gemini, Gemini flex, CORE,
// PRO, HOMEfix) over their local HTTP API v2 (driver goe), and older ones
// over API v1 (driver goe_v1, see v1.go; DetectAPI tells which a box
// speaks). It ships a simulator of the device beside the drivers, serving
// either API from one device model.
//
// Protocol reference: go-e, "go-eCharger-API-v2", repository
// goecharger/go-eCharger-API-v2 @ b4d7f85325f5fd7243d007f7fd639ac2db16c5da
// (http-en.md, apikeys-en.md, introduction-en.md), with the device
// behaviour the document leaves out taken from that repository's issues
// (cited where used). API v2 must be switched on in the go-e app.
//
// One poll is one GET /api/status?filter=...; a command is one
// GET /api/set?key=value whose JSON reply holds true or an error string per
// key.
//
// Current setpoint and flash wear: API v2 has no volatile current key. The
// v1 key amx never existed in v2 (API-v2 issues #23 and #112), and the
// Modbus register 299 "AMPERE_VOLATILE" is reported to persist as well on
// fw 59.4 (issue #310). go-e staff state that V3 and later store settings
// in wear-levelled NVS, so writing amp often is safe (#23, #112). The driver
// therefore writes amp; it writes every value the core asks for, since
// the core decides when a setpoint must be sent again.
package goe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "goe",
		Title:               "go-e Charger (HTTP API v2)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         80,
		NewOptions:          func() any { return &Options{} },
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

// Options are the go-e driver's own settings (the charger's `options:`).
type Options struct {
	// Token, when set, is sent as "Authorization: Bearer <token>" with every
	// request. The local API v2 documents no authentication, so leave it
	// empty unless a reverse proxy in front of the charger asks for one.
	Token string `yaml:"token"`
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	if strings.ContainsAny(o.Token, "\r\n") {
		return errors.New("goe: token must be a single line")
	}
	return nil
}

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20
	// minCurrent is the IEC 61851 minimum; the device rejects amp below it
	// (evcc-io/evcc#15952 shows the error reply for amp=5).
	minCurrent = 6
	// keyMaxCurrent is the top of amp's accepted range on every variant.
	keyMaxCurrent = 32
)

// statusFilter is the one key list a poll asks for.
const statusFilter = "car,alw,frc,amp,ama,nrg,wh,eto,err,psm,pnp,fwv,sse,typ,var,rssi,tma"

// Driver talks to one go-e Charger. It is safe for concurrent use.
type Driver struct {
	conn
	maxCur float64
	log    *slog.Logger

	mu        sync.Mutex
	ama       int  // ampere_max seen at the last poll, 0 if unknown
	warned400 bool // logged once that the device lacks some filter keys
}

// New builds a driver for s; it does no I/O.
func New(s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	if o == nil {
		o = &Options{}
	}
	c, err := newConn(s, o, "is HTTP API v2 enabled in the app?")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{conn: c, maxCur: s.MaxCurrent, log: log.With("driver", "goe", "charger", s.Name)}, nil
}

// Poll reads the charger's state with one status request.
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	code, body, err := d.get(ctx, "/api/status?filter="+statusFilter)
	if err != nil {
		return charger.State{}, fmt.Errorf("goe: read status: %w", err)
	}
	switch code {
	case http.StatusOK:
	case http.StatusBadRequest:
		// Models lacking a filtered key (e.g. cbl on CORE/PRO) answer 400
		// with the JSON of the keys they have (API-v2 issue #312). Accept
		// that reply; the parser still demands the keys we cannot do without.
		if !looksJSONObject(body) {
			return charger.State{}, fmt.Errorf("goe: read status: %w: http %d: %s",
				charger.ErrBadReply, code, snippet(body))
		}
		d.mu.Lock()
		if !d.warned400 {
			d.warned400 = true
			d.log.Info("charger answered 400 to the status filter; some keys are not supported by this model")
		}
		d.mu.Unlock()
	case http.StatusNotFound:
		return charger.State{}, fmt.Errorf("goe: read status: %w: http 404: no /api/status "+
			"(HTTP API v2 is off in the app, or the charger has only API v1: driver goe_v1)", charger.ErrBadReply)
	default:
		return charger.State{}, fmt.Errorf("goe: read status: %w: http %d: %s",
			charger.ErrBadReply, code, snippet(body))
	}
	st, err := parseStatus(body)
	if err != nil {
		return charger.State{}, fmt.Errorf("goe: read status: %w", err)
	}
	d.mu.Lock()
	if st.ama != nil {
		d.ama = *st.ama
	}
	d.mu.Unlock()
	return st.state(), nil
}

// CurrentRange is 6 A up to ama (seen at the last poll), capped by the
// configured maximum, in 1 A steps. Before the first poll the top is the
// configured maximum, or 32 A (amp's widest range) when none is set.
func (d *Driver) CurrentRange() (min, max, step float64) {
	d.mu.Lock()
	ama := d.ama
	d.mu.Unlock()
	return currentRange(ama, d.maxCur)
}

// SetCurrent sets amp to amps rounded down to whole amperes: rounding up
// could exceed a limit the core computed. Values outside CurrentRange are
// refused here, before anything is sent.
func (d *Driver) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, _ := d.CurrentRange()
	a, err := wholeAmps(amps, lo, hi)
	if err != nil {
		return fmt.Errorf("goe: set current %v A: %w", amps, err)
	}
	if err := d.set(ctx, "amp", strconv.Itoa(a)); err != nil {
		return fmt.Errorf("goe: set current %d A: %w", a, err)
	}
	return nil
}

// SetEnabled forces charging on (frc=2) or off (frc=1).
func (d *Driver) SetEnabled(ctx context.Context, enabled bool) error {
	v := "1"
	if enabled {
		v = "2"
	}
	if err := d.set(ctx, "frc", v); err != nil {
		return fmt.Errorf("goe: set enabled %t: %w", enabled, err)
	}
	return nil
}

// SetPhases forces one phase (psm=1) or three phases (psm=2). The charger
// itself pauses, switches and resumes charging.
func (d *Driver) SetPhases(ctx context.Context, phases int) error {
	var v string
	switch phases {
	case 1:
		v = "1"
	case 3:
		v = "2"
	default:
		return fmt.Errorf("goe: set phases %d: %w: only 1 or 3", phases, charger.ErrNotSupported)
	}
	if err := d.set(ctx, "psm", v); err != nil {
		return fmt.Errorf("goe: set phases %d: %w", phases, err)
	}
	return nil
}

// Close releases idle connections.
func (d *Driver) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

// set writes one key; value is already JSON-encoded.
func (d *Driver) set(ctx context.Context, key, value string) error {
	code, body, err := d.get(ctx, "/api/set?"+url.QueryEscape(key)+"="+url.QueryEscape(value))
	if err != nil {
		return err
	}
	// The device answers 200 when every key was taken and 500 with the
	// same per-key object when one was refused (evcc-io/evcc#15952).
	if code != http.StatusOK && !(code == http.StatusInternalServerError && looksJSONObject(body)) {
		return fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	return parseSetReply(body, key)
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.CurrentSetter    = (*Driver)(nil)
	_ charger.Enabler          = (*Driver)(nil)
	_ charger.PhaseSwitcher    = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
)
