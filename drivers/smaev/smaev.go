// Package smaev drives the SMA EV Charger (EVC7.4-1AC-10, EVC22-3AC-10;
// driver sma_evcharger) through the REST API of its firmware 1.2.23 and
// later, and simulates one.
//
// SMA publishes no document for this API. The facts follow protocols.md
// §11, which rests on evcc-io/evcc @ b29b49e3056ead3c99ff1f4711b2bb17083114b0
// (charger/smaevcharger.go, read at 0316f24abba2; charger/smaevcharger/
// types.go at 2ecab4f9c58e and identity.go at 82aa3f7e98c9: facts only,
// that driver is proprietary), cross-checked with alengwenus/pysmaev
// (pysmaev/core.py @ 05d0e11c5698a3bd5e0d9c0daba046feba21e824,
// pysmaev/const.py @ 2b5da032ab5e4024937d2ff518a5f9091ba436c1,
// helpers.py @ 3afaddb05763, tests/fixtures/*.json
// @ ff2be6ae0ffbce196601f1eb132aa9ba3acc13e7), the library behind
// alengwenus/ha-sma-ev-charger. Both agree on the endpoints, the JSON
// shapes, the timestamp format and the enum values used here. SEMP (the
// XML protocol at /SEMP that evcc now uses) is out of scope.
//
// Login. POST /api/v1/token with the form grant_type=password, username,
// password answers {"access_token","token_type","expires_in",
// "refresh_token"}; every other request carries "Authorization: Bearer
// <access_token>". The driver logs in on the first request, reuses the
// token, renews it with grant_type=refresh_token shortly before
// expires_in runs out, and on a 401 renews it (refresh, else a new login)
// and retries the request once. The user "admin" is refused by the API:
// create a user with Administrator rights in the charger's web UI and give
// it here; the options refuse "admin" before anything is sent.
//
// Reading. A poll is two requests: POST /api/v1/measurements/live with
// [{"componentId":"IGULD:SELF"}] (an array of {channelId, componentId,
// values:[{time, value}]}, numeric values) and POST
// /api/v1/parameters/search/ with {"queryItems":[{"componentId":
// "IGULD:SELF"}]} (an array of {componentId, values:[{channelId,
// editable, possibleValues, state, timestamp, value}]}, string values).
// A login or a token refresh adds one request (the first poll, then about
// once an hour). Only the channels below are checked; the many others the
// device lists are ignored, whatever their shape.
//
//	Measurement.Operation.EVeh.ChaStt   200111 A, 200112 B, 200113 C, 5169 station locked
//	Measurement.Metering.GridMs.TotWIn  charging power, W
//	Measurement.Metering.GridMs.TotWhIn lifetime energy, Wh
//	Measurement.ChaSess.WhIn            session energy, Wh
//	Measurement.GridMs.A.phsA/B/C       phase currents, A, sign inverted (negative while charging)
//	Measurement.Chrg.ModSw              rotary switch: 4718 fast, 4950 eco (smart charging)
//	Parameter.Chrg.ActChaMod            4718 fast, 4719 optimised, 4720 planned, 4721 stop
//	Parameter.Inverter.AcALim           current limit, A, a string with 2 decimals
//	Parameter.Chrg.ChrgLok              app lock: 1129 on, 1130 off
//	Parameter.Nameplate.ModelStr, PkgRev, SerNum  model, firmware, serial
//
// Control. PUT /api/v1/parameters/IGULD:SELF/ with {"values":[{
// "timestamp":"2006-01-02T15:04:05.000Z","channelId":…,"value":"…"}]}.
// SetCurrent writes AcALim (6..32 A, never above the configured
// MaxCurrent, 0.01 A steps), SetEnabled writes ActChaMod 4718 (fast) or
// 4721 (stop). Each command first reads the live measurements: with the
// rotary switch in the eco position (ModSw 4950) the charger's own
// optimised charging is in charge (pysmaev's fixtures show the switch at
// 4950 next to an ActChaMod whose possibleValues lack 4718) and evcc
// reports control as impossible, so every command then fails with
// ErrEcoSwitch before anything is written. A command is two requests.
// There is no phase switching. The driver never writes the app lock (evcc
// clears it at start; evbridge reports it instead, as ErrorCode
// "app_lock", since changing it is the owner's decision).
//
// Tested models: none on hardware; only against the simulator in this
// package, which follows the sources above and the choices marked VERIFY.
//
// Enabling the API: update the charger to firmware 1.2.23 or later, open
// its web UI (http://<charger>/), and create a user with Administrator
// rights in its user management; do not use "admin". The charger must not
// also be controlled by a Sunny Home Manager, and the rotary switch must
// be in the fast-charging position for evbridge to control it.
//
// VERIFY on hardware:
//   - what the token endpoint answers to wrong credentials and to "admin"
//     (the simulator sends 400 {"error":"invalid_grant"} as RFC 6749 §5.2
//     says; the driver takes 400, 401 and 403 as a refused login), and to
//     an expired refresh token;
//   - the 401 body for a missing or expired access token (the simulator
//     sends none, with WWW-Authenticate: Bearer), and the access token's
//     lifetime (pysmaev defaults to 3600 s when expires_in is absent);
//   - what the PUT answers on success (the simulator: 204) and on a
//     refused value, an unknown channel or a malformed body (400);
//   - whether AcALim takes fractions of an ampere, and the device's own
//     range (6 A from evcc; 32 A is the nameplate maximum of both models);
//   - that the charger sets ActChaMod to the switch position (fast) on
//     its own when a car is plugged in, as evcc's driver says; the
//     simulator does this, so a car may start charging before evbridge
//     decides;
//   - what ChaStt 5169 (station locked) says about the car: it is shown as
//     paused with ErrorCode "locked";
//   - the ModelStr and SerNum formats (the simulator: "EVC22-3AC-10" by
//     analogy with the "EVC7.4-1AC-10" in littleyoda/ha-pysmaplus#65, and
//     a 10-digit number), and whether every firmware lists all the
//     channels above;
//   - the eco position: that fast charging (4718) is then refused, and
//     what the charger does without a Sunny Home Manager (the simulator
//     does not charge; turning the switch sets the mode to its position);
//   - whether newer firmware serves the API over HTTPS only (this driver
//     speaks plain HTTP, as evcc and pysmaev do by default; a redirect is
//     reported as such).
//
// protocols.md §19 has no SMA item yet; the list above is what to add.
package smaev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "sma_evcharger",
		Title:               "SMA EV Charger (EVC7.4/EVC22, REST API fw ≥ 1.2.23)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         80,
		NewOptions:          charger.NewOptionsOf(DefaultOptions),
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

// Options are the driver's own settings (the charger's `options:`).
// Keep the password out of the config file with ${file:/run/secrets/…}
// or ${ENV}, which the config loader expands.
type Options struct {
	// Username is a user of the charger's web UI with Administrator
	// rights; the API refuses "admin".
	Username string `yaml:"username"`
	// Password is that user's password; a secret (masked in bridge/info
	// and logs).
	Password string `yaml:"password" secret:"true"`
}

// DefaultOptions returns the defaults: no credentials, which Validate
// refuses, as the API needs a login.
func DefaultOptions() Options { return Options{} }

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	switch {
	case o.Username == "" || o.Password == "":
		return errors.New("sma_evcharger: options username and password are required: " +
			"create a user with Administrator rights in the charger's web UI")
	case strings.EqualFold(o.Username, "admin"):
		return errors.New(`sma_evcharger: username "admin" is not allowed by the charger's API: ` +
			"create another user with Administrator rights in its web UI")
	case strings.ContainsAny(o.Username+o.Password, "\r\n"):
		return errors.New("sma_evcharger: username and password must be single lines")
	}
	return nil
}

// ErrEcoSwitch is wrapped (with charger.ErrRejected) by every command
// while the charger's rotary switch is in the eco position.
var ErrEcoSwitch = errors.New("the rotary switch on the charger is in the eco (smart charging) position " +
	"(Measurement.Chrg.ModSw 4950): the charger's own optimised charging is in control; " +
	"turn the switch to fast charging to control it from evbridge")

// Driver talks to one SMA EV Charger. It is safe for concurrent use.
type Driver struct {
	conn
	maxCur float64
	log    *slog.Logger

	cmdMu sync.Mutex // one command at a time
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
	log = log.With("driver", "sma_evcharger", "charger", s.Name)
	return &Driver{
		conn: conn{base: base, user: o.Username, pass: o.Password, timeout: timeout,
			client: newClient(timeout), now: time.Now, log: log},
		maxCur: s.MaxCurrent,
		log:    log,
	}, nil
}

// Poll reads the live measurements and the parameters: two requests,
// three when the token is renewed (package doc).
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	meas, err := d.api(ctx, pathMeasurements, bodyMeasurements)
	if err != nil {
		return charger.State{}, fmt.Errorf("sma_evcharger: read measurements: %w", err)
	}
	params, err := d.api(ctx, pathParameters, bodyParameters)
	if err != nil {
		return charger.State{}, fmt.Errorf("sma_evcharger: read parameters: %w", err)
	}
	r, err := decodeReading(meas, params)
	if err != nil {
		return charger.State{}, fmt.Errorf("sma_evcharger: %w", err)
	}
	return r.toState(), nil
}

// Close releases idle connections. The token stays valid on the device
// until it expires; the API has no logout.
func (d *Driver) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.CurrentSetter    = (*Driver)(nil)
	_ charger.Enabler          = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
)
