package keba

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// CurrentRange is 6 A up to "Curr HW" (DIP switches, cable, temperature)
// seen at the last poll, capped by the configured maximum, in 0.1 A steps.
// The station takes mA; 0.1 A keeps Home Assistant's slider sane.
func (d *Driver) CurrentRange() (min, max, step float64) {
	d.mu.Lock()
	hw := d.hw
	d.mu.Unlock()
	max = hwTop / 1000
	if hw >= minMilliAmps {
		max = float64(hw) / 1000
	}
	if d.maxCur > 0 && d.maxCur < max {
		max = math.Floor(d.maxCur*10+1e-6) / 10
	}
	return minMilliAmps / 1000, max, 0.1
}

// SetCurrent sends "currtime <mA> 1" (or "curr <mA>"), amps rounded down
// to 0.1 A. While the station is disabled the value is held and sent with
// the next enable, because currtime would enable it (guide §3.3.1).
func (d *Driver) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, _ := d.CurrentRange()
	if math.IsNaN(amps) || math.IsInf(amps, 0) {
		return fmt.Errorf("keba: set current %v A: %w: not a number", amps, charger.ErrRejected)
	}
	ma := int(math.Floor(amps*10+1e-6)) * 100
	if float64(ma) < lo*1000-1e-6 || float64(ma) > hi*1000+1e-6 {
		return fmt.Errorf("keba: set current %v A: %w: outside %v..%v A", amps, charger.ErrRejected, lo, hi)
	}
	if err := d.lock(ctx); err != nil {
		return fmt.Errorf("keba: set current: %w", err)
	}
	defer d.unlock()
	d.wantCurrent = ma
	if d.disabled() {
		d.pending = true
		d.log.Debug("station disabled; current held until it is enabled", "mA", ma)
		return nil
	}
	if err := d.sendCurrent(ctx); err != nil {
		return fmt.Errorf("keba: set current %v A: %w", float64(ma)/1000, err)
	}
	return nil
}

// disabled reports whether evbridge stopped the station, or, before it
// commanded anything, whether the station says it is stopped. Holds sem.
func (d *Driver) disabled() bool {
	if d.wantEnabled != nil {
		return !*d.wantEnabled
	}
	return d.r2 != nil && !d.r2.enableUser
}

// sendCurrent sends wantCurrent. Holds sem.
func (d *Driver) sendCurrent(ctx context.Context) error {
	cmd := fmt.Sprintf("currtime %d 1", d.wantCurrent)
	if d.opts.CurrentCommand == "curr" {
		cmd = fmt.Sprintf("curr %d", d.wantCurrent)
	}
	if err := d.ensureStation(ctx); err != nil {
		return err
	}
	if err := d.command(ctx, cmd); err != nil {
		return err
	}
	d.pending = false
	return nil
}

// SetEnabled sends "ena 1" (then a held current) or "ena 0". After
// "ena 0" the station gets 2 s of silence (t_DIS_pause).
func (d *Driver) SetEnabled(ctx context.Context, enabled bool) error {
	if err := d.lock(ctx); err != nil {
		return fmt.Errorf("keba: set enabled: %w", err)
	}
	defer d.unlock()
	if err := d.setEnabled(ctx, enabled); err != nil {
		return fmt.Errorf("keba: set enabled %t: %w", enabled, err)
	}
	return nil
}

func (d *Driver) setEnabled(ctx context.Context, enabled bool) error {
	if err := d.ensureStation(ctx); err != nil {
		return err
	}
	cmd := "ena 0"
	if enabled {
		cmd = "ena 1"
	}
	if err := d.command(ctx, cmd); err != nil {
		return err
	}
	d.wantEnabled = &enabled
	if enabled && d.pending && d.wantCurrent > 0 {
		return d.sendCurrent(ctx)
	}
	return nil
}

// RefreshInterval is half the failsafe timeout, or 0 (no refresh) when the
// driver does not arm the failsafe.
func (d *Driver) RefreshInterval() time.Duration {
	return d.opts.FailsafeTimeout / 2
}

// Refresh keeps the failsafe from falling: the guide names curr, currtime
// and ena as the commands that reset its timer, and re-sending the enable
// state the station already has is the one that changes nothing. It arms
// the failsafe first when the station does not hold evbridge's setting (at
// start, after the station restarted), and after the failsafe fell it
// sends current and enable again, as the guide asks.
func (d *Driver) Refresh(ctx context.Context) error {
	if d.opts.FailsafeTimeout <= 0 {
		return nil
	}
	if err := d.lock(ctx); err != nil {
		return fmt.Errorf("keba: refresh: %w", err)
	}
	defer d.unlock()
	if err := d.refresh(ctx); err != nil {
		return fmt.Errorf("keba: refresh: %w", err)
	}
	return nil
}

func (d *Driver) refresh(ctx context.Context) error {
	if err := d.ensureStation(ctx); err != nil {
		return err
	}
	r2, err := d.fetch2(ctx)
	if err != nil {
		return err
	}
	if !d.armed {
		cmd := fmt.Sprintf("failsafe %d %d 0", int(d.opts.FailsafeTimeout/time.Second), milliAmps(d.opts.FailsafeCurrent))
		if err := d.command(ctx, cmd); err != nil {
			return fmt.Errorf("arm failsafe: %w", err)
		}
		d.armed = true
	}
	on := !d.disabled()
	if failsafeTripped(r2) && on && d.wantCurrent > 0 {
		if err := d.sendCurrent(ctx); err != nil {
			return err
		}
	}
	return d.setEnabled(ctx, on)
}

// Close gives up the station's share of the UDP socket.
func (d *Driver) Close() error {
	d.sem <- struct{}{}
	defer d.unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.st != nil {
		d.conn.unsubscribe(d.st)
		d.st = nil
	}
	sockets.release(d.conn)
	return nil
}

// localAddr is the shared socket's bound address, binding it if needed;
// tests point their simulators' answers at it.
func (d *Driver) localAddr() (string, error) {
	a, err := d.conn.localAddr()
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.CurrentSetter    = (*Driver)(nil)
	_ charger.Enabler          = (*Driver)(nil)
	_ charger.Watchdogged      = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.OptionsValidator = (*Options)(nil)
)
