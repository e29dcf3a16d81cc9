package httpmeter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/drivers/jsonpath"
)

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20
)

// Meter reads one JSON endpoint. It is safe for concurrent use.
type Meter struct {
	url     string
	headers http.Header
	timeout time.Duration
	client  *http.Client
	c       *compiled
	log     *slog.Logger
}

// New builds the driver; it does no I/O.
func New(s meter.Settings, o *Options, log *slog.Logger) (*Meter, error) {
	if o == nil {
		o = &Options{}
	}
	c, err := o.compile()
	if err != nil {
		return nil, err
	}
	u := o.URL
	if u == "" {
		host := strings.TrimSpace(s.Address)
		if host == "" {
			return nil, errors.New("http_json: set the url option or the meter's address")
		}
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
		}
		u = "http://" + host + "/"
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	h := http.Header{}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", "application/json")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:               nil, // a LAN endpoint: never through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Meter{url: u, headers: h, timeout: timeout, client: &http.Client{Transport: tr}, c: c,
		log: log.With("driver", "http_json", "meter", s.Name)}, nil
}

// Read fetches the URL and picks the values out of the reply.
func (m *Meter) Read(ctx context.Context) (meter.Reading, error) {
	body, err := m.fetch(ctx)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("http_json: get %s: %w", m.url, err)
	}
	r, err := m.c.reading(body)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("http_json: %w", err)
	}
	return r, nil
}

func (m *Meter) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = m.headers.Clone()
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read reply: %w", err)
	case len(body) > maxReplyBytes:
		return nil, fmt.Errorf("reply larger than %d bytes", maxReplyBytes)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("http %d: %s", resp.StatusCode, snippet(body))
	}
	return body, nil
}

// reading decodes a reply and fills the configured values. Every
// problem is reported, each naming its option.
func (c *compiled) reading(body []byte) (meter.Reading, error) {
	doc, err := jsonpath.Decode(body)
	if err != nil {
		return meter.Reading{}, fmt.Errorf("%w (reply starts %q)", err, snippet(body))
	}
	var r meter.Reading
	var phases [2][3]*float64
	var errs []error
	for _, f := range c.fields {
		v, err := f.path.Lookup(doc)
		var x float64
		if err == nil {
			x, err = jsonpath.Number(v)
		}
		if errors.Is(err, jsonpath.ErrNull) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", f.name, f.path, err))
			continue
		}
		x *= f.scale
		switch {
		case f.to == tPower:
			r.Power = &x
		case f.to == tImport:
			r.EnergyImport = &x
		case f.to == tExport:
			r.EnergyExport = &x
		case f.to == tSoC:
			r.SoC = &x
		case f.to >= tVoltage:
			phases[1][f.to-tVoltage] = &x
		default:
			phases[0][f.to-tCurrent] = &x
		}
	}
	r.Currents, r.Voltages = leading(phases[0]), leading(phases[1])
	if c.timePath != nil {
		v, err := c.timePath.Lookup(doc)
		if err == nil {
			r.Measured, err = jsonpath.Time(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("time_path (%s): %w", c.timePath, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return meter.Reading{}, err
	}
	if err := meter.CheckReading(r); err != nil {
		return meter.Reading{}, err
	}
	return r, nil
}

// leading returns the phases up to the first missing one, so that
// index i is always phase i+1.
func leading(vals [3]*float64) []float64 {
	var out []float64
	for _, v := range vals {
		if v == nil {
			break
		}
		out = append(out, *v)
	}
	return out
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// Close releases idle connections.
func (m *Meter) Close() error {
	m.client.CloseIdleConnections()
	return nil
}

var (
	_ meter.Meter  = (*Meter)(nil)
	_ meter.Closer = (*Meter)(nil)
)
