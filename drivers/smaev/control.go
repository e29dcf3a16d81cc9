package smaev

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/evbridge/evbridge/bridge/charger"
)

const (
	minCurrent  = 6.0  // IEC 61851; evcc refuses less
	topCurrent  = 32.0 // nameplate maximum of the EVC7.4 and EVC22
	currentStep = 0.01 // AcALim is written with two decimals

	// timestampLayout is how the API writes times (evcc types.go,
	// pysmaev helpers.py): UTC, milliseconds, a literal Z.
	timestampLayout = "2006-01-02T15:04:05.000Z"
)

// CurrentRange is 6 A up to 32 A or the configured maximum, whichever is
// lower, in 0.01 A steps.
func (d *Driver) CurrentRange() (min, max, step float64) {
	max = topCurrent
	if d.maxCur > 0 && d.maxCur < max {
		max = math.Max(minCurrent, math.Floor(d.maxCur*100)/100)
	}
	return minCurrent, max, currentStep
}

// SetCurrent writes Parameter.Inverter.AcALim, amps rounded to 0.01 A.
// Values outside CurrentRange, or above the configured maximum, are
// refused before anything is sent.
func (d *Driver) SetCurrent(ctx context.Context, amps float64) error {
	if math.IsNaN(amps) || math.IsInf(amps, 0) {
		return fmt.Errorf("sma_evcharger: set current %v A: %w: not a number", amps, charger.ErrRejected)
	}
	lo, hi, _ := d.CurrentRange()
	a := math.Round(amps*100) / 100
	switch {
	case a < lo || a > hi:
		return fmt.Errorf("sma_evcharger: set current %v A: %w: outside %v..%v A", amps, charger.ErrRejected, lo, hi)
	case d.maxCur > 0 && a > d.maxCur:
		return fmt.Errorf("sma_evcharger: set current %v A: %w: above the configured max_current %v A",
			amps, charger.ErrRejected, d.maxCur)
	}
	if err := d.write(ctx, chCurrentLimit, strconv.FormatFloat(a, 'f', 2, 64)); err != nil {
		return fmt.Errorf("sma_evcharger: set current %.2f A: %w", a, err)
	}
	return nil
}

// SetEnabled writes Parameter.Chrg.ActChaMod: 4718 (fast charging) to
// enable, 4721 (charging stop) to disable.
func (d *Driver) SetEnabled(ctx context.Context, enabled bool) error {
	mode := modeStop
	if enabled {
		mode = modeFast
	}
	if err := d.write(ctx, chMode, mode); err != nil {
		return fmt.Errorf("sma_evcharger: set enabled %t: %w", enabled, err)
	}
	return nil
}

// setValue is one element of the PUT body.
type setValue struct {
	Timestamp string `json:"timestamp"`
	ChannelID string `json:"channelId"`
	Value     string `json:"value"`
}

// write checks the rotary switch, then writes one parameter.
func (d *Driver) write(ctx context.Context, channel, value string) error {
	d.cmdMu.Lock()
	defer d.cmdMu.Unlock()
	body, err := d.api(ctx, pathMeasurements, bodyMeasurements)
	if err != nil {
		return fmt.Errorf("read the switch position: %w", err)
	}
	r, err := decodeMeasurements(body)
	if err != nil {
		return fmt.Errorf("read the switch position: %w", err)
	}
	if r.swtch != nil && *r.swtch == switchEco {
		return fmt.Errorf("%w: %w", charger.ErrRejected, ErrEcoSwitch)
	}
	payload, err := json.Marshal(struct {
		Values []setValue `json:"values"`
	}{[]setValue{{Timestamp: d.now().UTC().Format(timestampLayout), ChannelID: channel, Value: value}}})
	if err != nil {
		return fmt.Errorf("encode parameter: %w", err)
	}
	if _, err := d.api(ctx, pathSetParams, payload); err != nil {
		return err
	}
	d.log.Debug("parameter written", "channel", channel, "value", value)
	return nil
}
