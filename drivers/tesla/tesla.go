// Package tesla reads a Tesla Wall Connector Gen 3 (driver tesla_wc3) over
// its local HTTP API, and simulates one.
//
// Tesla publishes no document for the local API. The endpoints and keys
// follow the open client einarhauks/tesla-wall-connector
// @ 06aa2e0b166f202aca06933f37d6052559c0675f (tesla_wall_connector/*.py,
// tests/test_wall_connector.py), which Home Assistant's
// tesla_wall_connector integration uses, cross-checked with evcc's twc3
// driver (protocols.md §13): GET /api/1/vitals, /api/1/lifetime,
// /api/1/wifi_status, /api/1/version on port 80, JSON, no login.
//
// Read-only. The API has no way to set the current or to stop and start
// charging: that is done from the car or the Tesla app. So the driver is
// a charger.Charger only (no CurrentSetter, no Enabler), which makes the
// core publish its entities as sensors, and every reading says so in
// ErrorText.
//
// A poll is GET /api/1/vitals. /api/1/version is read on the first poll,
// after a failed poll and when the uptime goes back (a reboot, maybe a
// firmware update); /api/1/lifetime (energy total) and
// /api/1/wifi_status (RSSI) on the first poll and every 12th: one
// request per poll, four on the first. No rate limit is known.
//
// The firmware writes nan for some lifetime counters and has been seen to
// drop the closing brace (the client's tests test_can_handle_nan_in_json
// and test_can_handle_missing_end_brace): both are repaired before
// decoding, nothing else is.
//
// VERIFY on hardware: the evse_state codes (the client and Home
// Assistant's sensor.py: 0 booting, 1 not connected, 2 connected, 4
// ready, 6 negotiating, 7 error, 8 charging finished, 9 waiting for the
// car, 10 charging reduced, 11 charging; protocols.md §13 lists other
// codes from a third source); how split-phase units report their leg
// voltages (the wiring option); when lifetime energy_wh grows (during or
// after a session).
package tesla

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "tesla_wc3",
		Title:               "Tesla Wall Connector Gen 3 (read-only, HTTP)",
		DefaultPollInterval: 5 * time.Second,
		DefaultPort:         80,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

// Wiring values for Options.Wiring.
const (
	WiringAuto        = "auto"         // three-phase when legs B and C carry voltage
	WiringThreePhase  = "three_phase"  // power = Σ phase voltage × phase current
	WiringSinglePhase = "single_phase" // also split-phase: power = grid_v × vehicle_current_a
)

// Options are the driver's own settings (the charger's `options:`).
type Options struct {
	// Wiring says how to compute power: auto (default), three_phase or
	// single_phase (use it for North American split-phase units).
	Wiring string `yaml:"wiring"`
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options { return Options{Wiring: WiringAuto} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch o.Wiring {
	case WiringAuto, WiringThreePhase, WiringSinglePhase:
		return nil
	}
	return fmt.Errorf("tesla_wc3: wiring %q: want %s, %s or %s", o.Wiring, WiringAuto, WiringThreePhase, WiringSinglePhase)
}

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20
	slowEvery      = 12 // lifetime and wifi_status every this many polls
)

// ReadOnlyText is in every reading's ErrorText: the entities are sensors
// because the device takes no commands.
const ReadOnlyText = "read-only: the Wall Connector cannot be controlled locally; " +
	"set the current or stop charging from the car or the Tesla app"

// Driver reads one Wall Connector. It is safe for concurrent use.
type Driver struct {
	base    string
	timeout time.Duration
	client  *http.Client
	wiring  string
	log     *slog.Logger

	mu         sync.Mutex
	polls      int
	version    *version
	uptime     float64 // vitals uptime_s at the last poll
	energyWh   *float64
	rssi       *float64
	noLifetime bool // the firmware has no /api/1/lifetime (404)
	noWifi     bool // nor /api/1/wifi_status
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
	host := strings.TrimSpace(s.Address)
	if host == "" {
		return nil, errors.New("tesla_wc3: address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	if u, err := url.Parse("http://" + host); err != nil || u.Host != host || u.Path != "" {
		return nil, fmt.Errorf("tesla_wc3: bad address %q", s.Address)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		base: "http://" + host, timeout: timeout, wiring: o.Wiring,
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // a LAN device: never through a proxy
			DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}},
		log: log.With("driver", "tesla_wc3", "charger", s.Name),
	}, nil
}

// Poll reads vitals, and the slower endpoints when due (package doc).
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	st, err := d.poll(ctx)
	if err != nil {
		d.mu.Lock()
		d.version = nil // re-read identity once the device is back
		d.mu.Unlock()
		return charger.State{}, err
	}
	return st, nil
}

func (d *Driver) poll(ctx context.Context) (charger.State, error) {
	body, err := d.get(ctx, "/api/1/vitals")
	if err != nil {
		return charger.State{}, fmt.Errorf("tesla_wc3: read vitals: %w", err)
	}
	v, err := parseVitals(body)
	if err != nil {
		return charger.State{}, fmt.Errorf("tesla_wc3: read vitals: %w", err)
	}
	d.mu.Lock()
	ver, polls, rebooted := d.version, d.polls, v.uptime != nil && *v.uptime < d.uptime
	noLife, noWifi := d.noLifetime, d.noWifi
	d.mu.Unlock()
	if ver == nil || rebooted {
		body, err := d.get(ctx, "/api/1/version")
		if err != nil {
			return charger.State{}, fmt.Errorf("tesla_wc3: read version: %w", err)
		}
		if ver, err = parseVersion(body); err != nil {
			return charger.State{}, fmt.Errorf("tesla_wc3: read version: %w", err)
		}
	}
	slow := polls%slowEvery == 0 || rebooted
	var energyWh, rssi *float64
	if slow && !noLife {
		energyWh, noLife, err = d.optional(ctx, "/api/1/lifetime", parseLifetime)
		if err != nil {
			return charger.State{}, fmt.Errorf("tesla_wc3: read lifetime: %w", err)
		}
	}
	if slow && !noWifi {
		rssi, noWifi, err = d.optional(ctx, "/api/1/wifi_status", parseWifi)
		if err != nil {
			return charger.State{}, fmt.Errorf("tesla_wc3: read wifi status: %w", err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.version, d.polls, d.noLifetime, d.noWifi = ver, d.polls+1, noLife, noWifi
	if v.uptime != nil {
		d.uptime = *v.uptime
	}
	if slow {
		d.energyWh, d.rssi = energyWh, rssi
	}
	return v.state(d.wiring, ver, d.energyWh, d.rssi), nil
}

// optional reads an endpoint older firmware may lack: a 404 marks it
// missing for good (logged once) instead of failing every poll.
func (d *Driver) optional(ctx context.Context, path string, parse func([]byte) (*float64, error)) (*float64, bool, error) {
	body, err := d.get(ctx, path)
	if errors.Is(err, errNotFound) {
		d.log.Info("the Wall Connector has no "+path+"; reading without it", "err", err)
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := parse(body)
	return v, false, err
}

// Close releases idle connections.
func (d *Driver) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

var errNotFound = errors.New("http 404")

// get sends one GET within the driver's timeout and demands 200.
func (d *Driver) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read reply: %w", err)
	case len(body) > maxReplyBytes:
		return nil, fmt.Errorf("%w: reply larger than %d bytes", charger.ErrBadReply, maxReplyBytes)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %w: no %s (is this a Wall Connector Gen 3?)", charger.ErrBadReply, errNotFound, path)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, resp.StatusCode, snippet(body))
	}
	return body, nil
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
)
