package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// validate checks a command against what this charger can do and the
// configured limits, before it is queued: the sender hears at once why a
// command was refused.
func (u *unit) validate(c Command) error {
	var errs []error
	if c.CurrentLimit != nil {
		cs, ok := u.dev.(charger.CurrentSetter)
		if !ok {
			errs = append(errs, fmt.Errorf("current_limit: %w", charger.ErrNotSupported))
		} else {
			lo, hi, step := u.currentRange(cs)
			v := *c.CurrentLimit
			switch {
			case v > u.cfg.MaxCurrent:
				errs = append(errs, fmt.Errorf("current_limit: %v A is above this charger's max_current of %v A", v, u.cfg.MaxCurrent))
			case v > hi:
				errs = append(errs, fmt.Errorf("current_limit: %v A is above what the charger accepts (%v A)", v, hi))
			case v < lo:
				errs = append(errs, fmt.Errorf("current_limit: %v A is below the minimum of %v A (use enabled=false to stop charging)", v, lo))
			case step > 0 && math.Abs(math.Round(v/step)*step-v) > 1e-6:
				errs = append(errs, fmt.Errorf("current_limit: %v A is not a multiple of the charger's step of %v A", v, step))
			}
		}
	}
	if c.Enabled != nil {
		if _, ok := u.dev.(charger.Enabler); !ok {
			errs = append(errs, fmt.Errorf("enabled: %w", charger.ErrNotSupported))
		}
	}
	if c.Phases != nil {
		if _, ok := u.dev.(charger.PhaseSwitcher); !ok {
			errs = append(errs, fmt.Errorf("phases: %w", charger.ErrNotSupported))
		}
	}
	if c.Reset {
		if _, ok := u.dev.(charger.Resetter); !ok {
			errs = append(errs, fmt.Errorf("reset: %w", charger.ErrNotSupported))
		}
	}
	if c.control() && u.b.site == nil {
		errs = append(errs, errors.New("mode and plan need the solar controller, which is off: set site.grid_meter in the config"))
	}
	return errors.Join(errs...)
}

// currentRange is the device's range narrowed by the configured maximum.
func (u *unit) currentRange(cs charger.CurrentSetter) (lo, hi, step float64) {
	lo, hi, step = cs.CurrentRange()
	if hi <= 0 || hi > u.cfg.MaxCurrent {
		hi = u.cfg.MaxCurrent
	}
	return lo, hi, step
}

// submit validates c and queues it. Queued fields are overwritten by newer
// ones, so while a slow device call is in flight the latest command wins.
func (u *unit) submit(c Command, source string) error {
	if err := u.validate(c); err != nil {
		u.reportError(source, err)
		return err
	}
	if c.control() {
		u.b.site.setControl(u, c)
	}
	if !c.device() {
		return nil
	}
	u.mu.Lock()
	u.pending.merge(c)
	u.mu.Unlock()
	select {
	case u.notify <- struct{}{}:
	default:
	}
	return nil
}

// execute applies the queued command; it reports whether it wrote anything.
func (u *unit) execute(ctx context.Context) bool {
	u.mu.Lock()
	c := u.pending
	u.pending = Command{}
	cur := u.state.State
	polled := u.polled
	u.mu.Unlock()
	if c.Empty() {
		return false
	}
	wrote := false
	// Order: phases, current, enabled (see commandFields).
	if c.Phases != nil && u.needsWrite("phases", polled, toFloat(cur.Phases), float64(*c.Phases)) {
		wrote = true
		u.call(ctx, "phases", float64(*c.Phases), func(ctx context.Context) error {
			return u.dev.(charger.PhaseSwitcher).SetPhases(ctx, *c.Phases)
		})
	}
	if c.CurrentLimit != nil && u.needsWrite("current_limit", polled, cur.CurrentLimit, *c.CurrentLimit) {
		wrote = true
		u.call(ctx, "current_limit", *c.CurrentLimit, func(ctx context.Context) error { return u.setCurrent(ctx, *c.CurrentLimit) })
	}
	if c.Enabled != nil && u.needsWrite("enabled", polled, boolFloat(cur.Enabled), boolValue(*c.Enabled)) {
		wrote = true
		u.call(ctx, "enabled", boolValue(*c.Enabled), func(ctx context.Context) error {
			return u.dev.(charger.Enabler).SetEnabled(ctx, *c.Enabled)
		})
	}
	if c.Reset {
		wrote = true
		u.call(ctx, "reset", 1, func(ctx context.Context) error { return u.dev.(charger.Resetter).Reset(ctx) })
		u.mu.Lock()
		delete(u.written, "reset") // a reset is an action, not a value to compare
		u.mu.Unlock()
	}
	if !wrote {
		u.log.Debug("command skipped: the charger already has these values")
	}
	return wrote
}

// setCurrent is the only path to a driver's SetCurrent. It refuses any
// value above the configured maximum even if a caller forgot to validate:
// safety invariant 1.
func (u *unit) setCurrent(ctx context.Context, amps float64) error {
	cs := u.dev.(charger.CurrentSetter)
	lo, hi, _ := u.currentRange(cs)
	if math.IsNaN(amps) || amps > hi || amps > u.cfg.MaxCurrent || amps < lo {
		return fmt.Errorf("refusing %v A: allowed %v..%v A", amps, lo, hi)
	}
	return cs.SetCurrent(ctx, amps)
}

// needsWrite decides whether a write is needed: not when the device
// already reports the wanted value, unless evbridge wrote something else to
// that field so recently that the reading may predate it (devices take a
// moment to show a new setting).
func (u *unit) needsWrite(field string, polled bool, have *float64, want float64) bool {
	if !polled || have == nil || *have != want {
		return true
	}
	u.mu.Lock()
	w, ok := u.written[field]
	u.mu.Unlock()
	recent := ok && time.Since(w.at) < 2*u.cfg.PollInterval+time.Second
	return recent && w.value != want
}

func (u *unit) call(ctx context.Context, field string, value float64, fn func(context.Context) error) {
	cctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	start := time.Now()
	err := fn(cctx)
	if err != nil {
		u.reportError("set/"+field, err)
		return
	}
	u.mu.Lock()
	u.written[field] = writtenValue{value: value, at: time.Now()}
	u.mu.Unlock()
	u.log.Info("command applied", "field", field, "took", time.Since(start).Round(time.Millisecond))
}

// reportError publishes why a command or device call failed on
// `<base>/<charger>/error` and keeps it as last_error in the state.
func (u *unit) reportError(source string, err error) {
	u.log.Warn("command failed", "source", source, "err", err)
	msg, _ := json.Marshal(map[string]string{
		"charger": u.id,
		"source":  source,
		"error":   err.Error(),
		"time":    time.Now().UTC().Format(time.RFC3339),
	})
	u.b.link.publish(u.topic("error"), 1, false, msg)
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	u.mu.Lock()
	u.lastError = source + ": " + err.Error()
	st, polled := u.state, u.polled
	st.LastError = u.lastError
	if polled {
		u.state = st
	}
	u.mu.Unlock()
	if polled {
		u.publishState(st)
	}
}

func (u *unit) refreshWatchdog(ctx context.Context) {
	w := u.dev.(charger.Watchdogged)
	cctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	if err := w.Refresh(cctx); err != nil {
		u.log.Warn("watchdog refresh failed; the charger will fall back to its safe current", "err", err)
	}
}

// writtenValue is the last value evbridge wrote to a field, and when.
type writtenValue struct {
	value float64
	at    time.Time
}

func toFloat(p *int) *float64 {
	if p == nil {
		return nil
	}
	return charger.Ptr(float64(*p))
}

func boolFloat(p *bool) *float64 {
	if p == nil {
		return nil
	}
	return charger.Ptr(boolValue(*p))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
