package goe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// conn is the HTTP side both API drivers share: one LAN device, GET only,
// every request bounded by the driver's timeout and the caller's context.
type conn struct {
	base     string // http://host:port
	token    string
	timeout  time.Duration
	client   *http.Client
	htmlHint string // what an HTML reply most likely means on this API
}

// baseURL turns a configured address (host or host:port) into
// http://host:port, port 80 by default.
func baseURL(address string) (string, error) {
	host := strings.TrimSpace(address)
	if host == "" {
		return "", errors.New("goe: address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	u, err := url.Parse("http://" + host)
	if err != nil || u.Host != host || u.Path != "" {
		return "", fmt.Errorf("goe: bad address %q", address)
	}
	return "http://" + host, nil
}

func newConn(s charger.Settings, o *Options, htmlHint string) (conn, error) {
	if err := o.Validate(); err != nil {
		return conn{}, err
	}
	base, err := baseURL(s.Address)
	if err != nil {
		return conn{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return conn{base: base, token: o.Token, timeout: timeout, client: newClient(timeout), htmlHint: htmlHint}, nil
}

func newClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // a LAN device: never go through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr} // each request is bounded by its context
}

// get sends one GET within the driver's timeout and returns status and body.
func (c *conn) get(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read reply: %w", err)
	}
	if len(body) > maxReplyBytes {
		return 0, nil, fmt.Errorf("%w: reply larger than %d bytes", charger.ErrBadReply, maxReplyBytes)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") || looksHTML(body) {
		return 0, nil, fmt.Errorf("%w: http %d: got HTML, not JSON (%s)",
			charger.ErrBadReply, resp.StatusCode, c.htmlHint)
	}
	return resp.StatusCode, body, nil
}

// currentRange is 6 A up to ama (0 if unknown), capped by the configured
// maximum, in 1 A steps; without ama the top is the configured maximum or
// 32 A, the widest range amp and amx accept.
func currentRange(ama int, maxCur float64) (min, max, step float64) {
	max = keyMaxCurrent
	if ama >= minCurrent {
		max = float64(ama)
	}
	if maxCur > 0 && maxCur < max {
		max = math.Floor(maxCur)
	}
	return minCurrent, max, 1
}

// wholeAmps rounds amps down to whole amperes (rounding up could exceed a
// limit the core computed) and refuses values outside lo..hi.
func wholeAmps(amps, lo, hi float64) (int, error) {
	if math.IsNaN(amps) || math.IsInf(amps, 0) {
		return 0, fmt.Errorf("%w: not a number", charger.ErrRejected)
	}
	a := math.Floor(amps + 1e-6) // 9.9999999 from float arithmetic is 10
	if a < lo || a > hi {
		return 0, fmt.Errorf("%w: outside %v..%v A", charger.ErrRejected, lo, hi)
	}
	return int(a), nil
}
