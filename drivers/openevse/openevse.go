// Package openevse drives OpenEVSE chargers through the HTTP API of their
// ESP32 WiFi gateway (firmware v4 and later), and simulates one.
//
// Protocol reference: OpenEVSE, "OpenEVSE WiFi API" (api.yml, OpenAPI
// 3.0.3) with models/Status.yaml, Config.yaml, Properties.yaml and
// Claim.yaml, in OpenEVSE/ESP32_WiFi_V4.x (now openevse_esp32_firmware)
// @ 18506b7737176bdb97f9c253f2b41dc44a4fd58b; where the document is
// silent, the firmware's own source there (src/evse_man.h/.cpp,
// src/web_server.cpp, src/web_server_claims.cpp, src/manual.cpp), cited
// where used. protocols.md §2.
//
// Reading. A poll is GET /status. GET /config (identity, current limits,
// is_threephase) is read on the first poll and again whenever the status
// shows a new config_version; GET /override only while the status shows
// manual_override=1. So one request per poll, two on the first.
//
// Control is a claim: POST /claims/<client_id> with
// {"state","charge_current","auto_release":false}. The firmware gives an
// HTTP claim priority 500 (EvseManager_Priority_API) and resolves each
// property on its own: the highest-priority claim that sets it wins, and
// the pilot is the smallest of max_current_soft, the winning max_current
// and the winning charge_current, raised to min_current_hard. A POST
// replaces the client's whole claim, so the driver always sends every
// property it holds, and before its first command it reads its claim
// back (GET /claims/<id>) to carry on what an earlier run claimed rather
// than drop it (a dropped "disabled" would start charging). A command is
// that POST and a GET /override: two requests, three the first time.
// Claims live in the gateway's RAM: a reboot clears them, and the charger
// falls back to its own settings until evbridge next commands. The driver
// never releases its claim by itself, not even on Close: stopping
// evbridge must not start or speed up charging. Release hands control
// back on purpose.
//
// Manual override. A manual override set on the charger (its web UI, the
// button, its app, or /override) is the client "manual" at priority 1000,
// so it wins, but only for the properties it sets: a toggle sets only
// state, so evbridge's current still applies. The driver reports an
// active override as ErrorCode "manual_override" with what it holds, and
// a command whose property the override holds is stored (it takes effect
// once the override is cleared) but returns an error wrapping
// charger.ErrRejected and ErrOverridden. The driver never clears an
// override: it is the user's decision at the charger. The firmware
// defaults an override to auto_release, which drops it when the car
// leaves.
//
// Authentication: HTTP basic, when www_username is set on the charger.
// No rate limit is documented. Not in the document, so VERIFY on
// hardware: the reply to GET /override when none is active (404 per
// api.yml, {} in some firmware: both are handled), and that the claim
// client id accepts values up to 2^31-1 (the firmware parses it with
// String.toInt).
package openevse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "openevse",
		Title:               "OpenEVSE (WiFi gateway v4+, HTTP)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         80,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

// DefaultClientID is the claim client id evbridge uses: vendor 0x0045,
// client 0x0042 in the firmware's vendor<<16|client scheme (src/evse_man.h),
// a vendor the firmware does not register for itself.
const DefaultClientID = 0x00450042

// Options are the OpenEVSE driver's own settings (the charger's `options:`).
type Options struct {
	// Username and Password log in with HTTP basic auth; needed when the
	// charger's web UI has a login (www_username).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ClientID is the client evbridge claims as (POST /claims/<id>). Two
	// controllers must not share one. 1..2147483647, outside the vendors
	// 0x0001..0x0003 the firmware and its makers use.
	ClientID int `yaml:"client_id"`
}

// DefaultOptions returns the defaults: no login, DefaultClientID.
func DefaultOptions() Options { return Options{ClientID: DefaultClientID} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case strings.ContainsAny(o.Username+o.Password, "\r\n"):
		return errors.New("openevse: username and password must be single lines")
	case strings.Contains(o.Username, ":"):
		return errors.New("openevse: username must not contain ':' (HTTP basic auth)")
	case o.Password != "" && o.Username == "":
		return errors.New("openevse: password without username")
	case o.ClientID <= 0 || o.ClientID > math.MaxInt32:
		return fmt.Errorf("openevse: client_id %d outside 1..%d", o.ClientID, math.MaxInt32)
	case o.ClientID>>16 >= 1 && o.ClientID>>16 <= 3:
		return fmt.Errorf("openevse: client_id %#x is in a vendor range the firmware uses (0x0001..0x0003 <<16)", o.ClientID)
	}
	return nil
}

// ErrOverridden is wrapped (with charger.ErrRejected) by a command that a
// manual override on the charger outranks.
var ErrOverridden = errors.New("a manual override on the charger takes precedence")

// Driver talks to one OpenEVSE. It is safe for concurrent use.
type Driver struct {
	conn
	clientID int
	maxCur   float64
	log      *slog.Logger

	cmdMu sync.Mutex // one command at a time: each posts the whole claim

	mu       sync.Mutex
	cfg      *config // last /config, nil before the first poll
	cfgAt    int     // config_version it was read at, -1 unknown
	claim    props   // what evbridge claims
	loaded   bool    // claim merged with what the charger held at start
	override *props  // the override at the last poll, nil if none
}

// New builds a driver for s; it does no I/O.
func New(s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	if o == nil {
		d := DefaultOptions()
		o = &d
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	base, err := baseURL(s.Address)
	if err != nil {
		return nil, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		conn:     conn{base: base, user: o.Username, pass: o.Password, timeout: timeout, client: newClient(timeout)},
		clientID: o.ClientID,
		maxCur:   s.MaxCurrent,
		log:      log.With("driver", "openevse", "charger", s.Name),
		cfgAt:    -1,
		claim:    props{AutoRelease: charger.Ptr(false)},
	}, nil
}

// Poll reads /status, and /config or /override when needed (see the
// package doc).
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	body, err := d.fetch(ctx, "/status")
	if err != nil {
		return charger.State{}, fmt.Errorf("openevse: read status: %w", err)
	}
	st, err := parseStatus(body)
	if err != nil {
		return charger.State{}, fmt.Errorf("openevse: read status: %w", err)
	}
	d.mu.Lock()
	cfg, cfgAt := d.cfg, d.cfgAt
	d.mu.Unlock()
	if cfg == nil || st.configVersion == nil || *st.configVersion != cfgAt {
		body, err := d.fetch(ctx, "/config")
		if err != nil {
			return charger.State{}, fmt.Errorf("openevse: read config: %w", err)
		}
		if cfg, err = parseConfig(body); err != nil {
			return charger.State{}, fmt.Errorf("openevse: read config: %w", err)
		}
		cfgAt = -1
		if st.configVersion != nil {
			cfgAt = *st.configVersion
		}
	}
	var ovr *props
	if st.manualOverride {
		// Without it the state still says an override is active.
		if ovr, err = d.readOverride(ctx); err != nil {
			d.log.Warn("could not read the manual override", "err", err)
		}
	}
	d.mu.Lock()
	d.cfg, d.cfgAt, d.override = cfg, cfgAt, ovr
	d.mu.Unlock()
	return st.toState(cfg, ovr), nil
}

// Close releases idle connections. It leaves the claim in place.
func (d *Driver) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

// fetch GETs path and demands 200.
func (d *Driver) fetch(ctx context.Context, path string) ([]byte, error) {
	code, body, err := d.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	return body, nil
}

// readOverride returns the active manual override, nil if there is none.
func (d *Driver) readOverride(ctx context.Context) (*props, error) {
	code, body, err := d.do(ctx, http.MethodGet, "/override", nil)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, nil
	case code != http.StatusOK:
		return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	return parseProps(body)
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.CurrentSetter    = (*Driver)(nil)
	_ charger.Enabler          = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
)
