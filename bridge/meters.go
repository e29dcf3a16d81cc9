package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
)

// meterReading is a reading after the meter's invert and scale settings.
type meterReading = meter.Reading

// absurdPower bounds what a meter in a home or a garage can report, W.
const absurdPower = 1e6

// meterUnit polls one meter and keeps its last reading for the controller.
type meterUnit struct {
	cfg config.Meter
	dev meter.Meter
	log *slog.Logger

	mu           sync.Mutex
	reading      meterReading
	freshAt      time.Time // when the value last changed its device timestamp
	lastMeasured time.Time
	good         bool // the most recent read succeeded
	failures     int
}

func newMeterUnit(b *Bridge, mc config.Meter) (*meterUnit, error) {
	reg := b.opts.Meters
	if reg == nil {
		reg = meter.Default
	}
	d, ok := reg.Lookup(mc.Driver)
	if !ok {
		return nil, fmt.Errorf("meter %s: unknown driver %q", mc.Name, mc.Driver)
	}
	log := b.log.With("meter", mc.Name, "driver", mc.Driver)
	addr := mc.Address
	if addr != "" && d.DefaultPort > 0 {
		c := config.Charger{Address: addr}
		addr = c.HostPort(d.DefaultPort)
	}
	local := func() meter.BrokerLogin {
		// The files were read once already when evbridge connected, so an
		// error here is the same one evbridge's own link reported.
		tc, _ := tlsConfig(b.cfg.MQTT.TLS)
		return meter.BrokerLogin{URL: b.BrokerURL(), Username: b.cfg.MQTT.Username, Password: b.cfg.MQTT.Password, TLS: tc}
	}
	dev, err := d.New(meter.Settings{Name: mc.Name, Address: addr, Timeout: mc.Timeout, LocalBroker: local}, mc.Options, log)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", mc.Name, err)
	}
	return &meterUnit{cfg: mc, dev: dev, log: log}, nil
}

func (m *meterUnit) run(ctx context.Context) {
	defer func() {
		if c, ok := m.dev.(meter.Closer); ok {
			_ = c.Close()
		}
	}()
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		m.read(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *meterUnit) read(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	r, err := m.dev.Read(rctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		r, err = m.transform(r)
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.failures++
		m.good = false
		if m.failures == 1 || m.failures%30 == 0 {
			m.log.Warn("meter read failed; the controller treats the meter as lost", "failures", m.failures, "err", err)
		}
		return
	}
	if m.failures > 0 {
		m.log.Info("meter answers again", "after_failures", m.failures)
	}
	m.failures = 0
	m.good = true
	// A device timestamp that stops moving means the meter repeats an old
	// value: its freshness stays where the timestamp last changed.
	if r.Measured.IsZero() || !r.Measured.Equal(m.lastMeasured) || m.freshAt.IsZero() {
		m.freshAt = now
	}
	m.lastMeasured = r.Measured
	m.reading = r
}

// transform applies invert and scale and refuses impossible values.
func (m *meterUnit) transform(r meter.Reading) (meter.Reading, error) {
	k := m.cfg.Scale
	if k == 0 {
		k = 1
	}
	if m.cfg.Invert {
		k = -k
	}
	if r.Power != nil {
		p := *r.Power * k
		if math.IsNaN(p) || math.IsInf(p, 0) || math.Abs(p) > absurdPower {
			return r, fmt.Errorf("power %v W is not a plausible reading", p)
		}
		r.Power = &p
	}
	if len(r.Currents) > 0 {
		cs := make([]float64, len(r.Currents))
		for i, c := range r.Currents {
			cs[i] = c * k
			if math.IsNaN(cs[i]) || math.Abs(cs[i]) > 5000 {
				return r, fmt.Errorf("current L%d %v A is not a plausible reading", i+1, cs[i])
			}
		}
		r.Currents = cs
	}
	if r.SoC != nil && (math.IsNaN(*r.SoC) || *r.SoC < 0 || *r.SoC > 100) {
		return r, fmt.Errorf("state of charge %v %% is outside 0..100", *r.SoC)
	}
	return r, nil
}

// latest returns the last reading, when it became fresh, and whether the
// most recent read succeeded.
func (m *meterUnit) latest() (meterReading, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reading, m.freshAt, m.good
}
