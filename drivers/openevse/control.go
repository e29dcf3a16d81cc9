package openevse

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

const (
	minCurrent = 6  // IEC 61851; the firmware's min_current_hard default
	topCurrent = 32 // range top before /config was read
)

// CurrentRange is min_current_hard up to max_current_soft (capped by
// max_current_hard and the configured maximum) in 1 A steps; the firmware
// caps every claim at max_current_soft. Before the first poll it is 6 A up
// to the configured maximum, or 32 A.
func (d *Driver) CurrentRange() (min, max, step float64) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	min, max = minCurrent, topCurrent
	if cfg != nil {
		if cfg.minHard != nil && *cfg.minHard > 0 {
			min = float64(*cfg.minHard)
		}
		switch {
		case cfg.maxSoft != nil && *cfg.maxSoft >= int(min):
			max = float64(*cfg.maxSoft)
		case cfg.maxHard != nil && *cfg.maxHard >= int(min):
			max = float64(*cfg.maxHard)
		}
		if cfg.maxHard != nil && *cfg.maxHard >= int(min) && float64(*cfg.maxHard) < max {
			max = float64(*cfg.maxHard)
		}
	}
	if d.maxCur > 0 && d.maxCur < max {
		max = math.Max(min, math.Floor(d.maxCur))
	}
	return min, max, 1
}

// SetCurrent claims charge_current = amps rounded down to whole amperes.
// Values outside CurrentRange are refused before anything is sent.
func (d *Driver) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, _ := d.CurrentRange()
	if math.IsNaN(amps) || math.IsInf(amps, 0) {
		return fmt.Errorf("openevse: set current %v A: %w: not a number", amps, charger.ErrRejected)
	}
	a := math.Floor(amps + 1e-6)
	if a < lo || a > hi {
		return fmt.Errorf("openevse: set current %v A: %w: outside %v..%v A", amps, charger.ErrRejected, lo, hi)
	}
	n := int(a)
	err := d.command(ctx, func(p *props) { p.ChargeCurrent = &n }, func(o *props) string {
		switch {
		case o.ChargeCurrent != nil && *o.ChargeCurrent != n:
			return fmt.Sprintf("it holds charge_current=%d A", *o.ChargeCurrent)
		case o.MaxCurrent != nil && *o.MaxCurrent < n:
			return fmt.Sprintf("it holds max_current=%d A", *o.MaxCurrent)
		}
		return ""
	})
	if err != nil {
		return fmt.Errorf("openevse: set current %d A: %w", n, err)
	}
	return nil
}

// SetEnabled claims state "active" or "disabled".
func (d *Driver) SetEnabled(ctx context.Context, enabled bool) error {
	want := "disabled"
	if enabled {
		want = "active"
	}
	err := d.command(ctx, func(p *props) { p.State = want }, func(o *props) string {
		if o.State != "" && o.State != want {
			return "it holds state=" + o.State
		}
		return ""
	})
	if err != nil {
		return fmt.Errorf("openevse: set enabled %t: %w", enabled, err)
	}
	return nil
}

// Release withdraws evbridge's claim: the charger goes back to its own
// settings (default state, max_current_soft, other clients' claims). The
// core never calls it; it is for handing control back on purpose.
func (d *Driver) Release(ctx context.Context) error {
	d.cmdMu.Lock()
	defer d.cmdMu.Unlock()
	code, body, err := d.do(ctx, http.MethodDelete, d.claimPath(), nil)
	switch {
	case err != nil:
		return fmt.Errorf("openevse: release claim: %w", err)
	case code != http.StatusOK && code != http.StatusNotFound: // 404: nothing claimed
		return fmt.Errorf("openevse: release claim: %w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	d.mu.Lock()
	d.claim, d.loaded = props{AutoRelease: charger.Ptr(false)}, true
	d.mu.Unlock()
	return nil
}

// command applies change to evbridge's claim, posts the whole claim, then
// asks whether a manual override outranks it: conflict returns why, or
// "" when the override leaves this property alone.
func (d *Driver) command(ctx context.Context, change func(*props), conflict func(*props) string) error {
	d.cmdMu.Lock()
	defer d.cmdMu.Unlock()
	if err := d.loadClaim(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	next := d.claim
	d.mu.Unlock()
	change(&next)
	body, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode claim: %w", err)
	}
	code, reply, err := d.do(ctx, http.MethodPost, d.claimPath(), body)
	switch {
	case err != nil:
		return err
	case code == http.StatusBadRequest:
		// "Could not make claim": all 10 claim slots are taken
		// (EVSE_MANAGER_MAX_CLIENT_CLAIMS), or the JSON was refused.
		return fmt.Errorf("%w: http 400: %s", charger.ErrRejected, message(reply))
	case code != http.StatusOK && code != http.StatusCreated:
		return fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(reply))
	}
	d.mu.Lock()
	d.claim = next
	d.mu.Unlock()

	ovr, err := d.readOverride(ctx)
	if err != nil {
		// The claim is in; the next poll reports an override anyway.
		d.log.Warn("claim stored, but the manual override could not be read", "err", err)
		return nil
	}
	if ovr == nil {
		return nil
	}
	if why := conflict(ovr); why != "" {
		return fmt.Errorf("%w: %w: claim stored, but %s; it applies once the override is cleared on the charger",
			charger.ErrRejected, ErrOverridden, why)
	}
	return nil
}

// loadClaim reads, once, what the charger holds under evbridge's client
// id, so that a restarted evbridge keeps what it claimed before.
func (d *Driver) loadClaim(ctx context.Context) error {
	d.mu.Lock()
	loaded := d.loaded
	d.mu.Unlock()
	if loaded {
		return nil
	}
	code, body, err := d.do(ctx, http.MethodGet, d.claimPath(), nil)
	switch {
	case err != nil:
		return fmt.Errorf("read own claim: %w", err)
	case code == http.StatusNotFound:
	case code != http.StatusOK:
		return fmt.Errorf("read own claim: %w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	default:
		held, err := parseProps(body)
		if err != nil {
			return fmt.Errorf("read own claim: %w", err)
		}
		if held != nil {
			d.mu.Lock()
			d.claim.State, d.claim.ChargeCurrent, d.claim.MaxCurrent = held.State, held.ChargeCurrent, held.MaxCurrent
			d.mu.Unlock()
			d.log.Info("carrying on the claim the charger still holds for evbridge", "claim", held.describe())
		}
	}
	d.mu.Lock()
	d.loaded = true
	d.mu.Unlock()
	return nil
}

func (d *Driver) claimPath() string { return "/claims/" + strconv.Itoa(d.clientID) }

// message is the "msg" of a firmware reply, or the reply quoted.
func message(body []byte) string {
	var m struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal(body, &m) == nil && m.Msg != "" {
		return strconv.Quote(m.Msg)
	}
	return snippet(body)
}
