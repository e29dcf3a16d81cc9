package smaev

import (
	"bytes"
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
	"github.com/evbridge/evbridge/drivers/jsonfield"
)

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20

	// component is the charger itself in the API's component ids.
	component = "IGULD:SELF"

	pathToken        = "/api/v1/token"
	pathMeasurements = "/api/v1/measurements/live"
	pathParameters   = "/api/v1/parameters/search/"
	pathSetParams    = "/api/v1/parameters/" + component + "/"

	// defaultTokenLifetime applies when the token reply has no
	// expires_in (pysmaev's TOKEN_TIMEOUT).
	defaultTokenLifetime = time.Hour
	// renewBefore is how long before expiry the token is renewed; a
	// tenth of the lifetime when that is shorter.
	renewBefore = time.Minute
)

var (
	bodyMeasurements = []byte(`[{"componentId":"` + component + `"}]`)
	bodyParameters   = []byte(`{"queryItems":[{"componentId":"` + component + `"}]}`)
)

// conn is the HTTP side of the driver: one device, one login.
type conn struct {
	base       string // http://host:port
	user, pass string
	timeout    time.Duration
	client     *http.Client
	now        func() time.Time
	log        *slog.Logger

	authMu sync.Mutex // one login or refresh at a time

	mu  sync.Mutex
	tok token
}

// token is what the last login or refresh gave.
type token struct {
	access, refresh string
	renewAt         time.Time // renew from then on
}

func baseURL(address string) (string, error) {
	host := strings.TrimSpace(address)
	if host == "" {
		return "", errors.New("sma_evcharger: address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	u, err := url.Parse("http://" + host)
	if err != nil || u.Host != host || u.Path != "" {
		return "", fmt.Errorf("sma_evcharger: bad address %q", address)
	}
	return "http://" + host, nil
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // a LAN device: never through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// api sends an authenticated JSON request (POST, or PUT to pathSetParams)
// and returns the 2xx reply. A 401 renews the token and retries once.
func (c *conn) api(ctx context.Context, path string, body []byte) ([]byte, error) {
	method := http.MethodPost
	if path == pathSetParams {
		method = http.MethodPut
	}
	stale := ""
	for attempt := 0; ; attempt++ {
		access, err := c.accessToken(ctx, stale)
		if err != nil {
			return nil, err
		}
		code, reply, err := c.do(ctx, method, path, "application/json", body, access)
		switch {
		case err != nil:
			return nil, err
		case code == http.StatusUnauthorized && attempt == 0:
			c.log.Debug("access token refused, renewing it", "path", path)
			stale = access
			continue
		case code == http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: http 401: the charger refused a fresh access token for user %q "+
				"(does the user have Administrator rights?)", charger.ErrRejected, c.user)
		case code == http.StatusBadRequest:
			return nil, fmt.Errorf("%w: http 400: %s", charger.ErrRejected, jsonfield.Snippet(reply))
		case code < 200 || code > 299:
			return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, jsonfield.Snippet(reply))
		}
		return reply, nil
	}
}

// accessToken returns a usable access token: the one held unless it is
// due for renewal or is stale (refused by the device), else a renewed
// one: by refresh token first, by a new login when that fails.
func (c *conn) accessToken(ctx context.Context, stale string) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.mu.Lock()
	tok := c.tok
	c.mu.Unlock()
	if tok.access != "" && tok.access != stale && c.now().Before(tok.renewAt) {
		return tok.access, nil
	}
	if tok.refresh != "" {
		next, err := c.requestToken(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}})
		if err == nil {
			c.log.Debug("access token refreshed")
			return c.keep(next), nil
		}
		if !errors.Is(err, charger.ErrRejected) {
			return "", fmt.Errorf("refresh token: %w", err)
		}
		c.log.Debug("refresh token refused, logging in again", "err", err)
	}
	next, err := c.requestToken(ctx, url.Values{"grant_type": {"password"}, "username": {c.user}, "password": {c.pass}})
	if err != nil {
		c.mu.Lock()
		c.tok = token{}
		c.mu.Unlock()
		if errors.Is(err, charger.ErrRejected) {
			return "", fmt.Errorf("log in as %q: %w (create a user with Administrator rights in the charger's web UI; "+
				`"admin" is not allowed)`, c.user, err)
		}
		return "", fmt.Errorf("log in: %w", err)
	}
	c.log.Debug("logged in", "user", c.user)
	return c.keep(next), nil
}

func (c *conn) keep(t token) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tok = t
	return t.access
}

// requestToken posts a token grant; a refused grant wraps ErrRejected.
func (c *conn) requestToken(ctx context.Context, form url.Values) (token, error) {
	code, reply, err := c.do(ctx, http.MethodPost, pathToken, "application/x-www-form-urlencoded",
		[]byte(form.Encode()), "")
	switch {
	case err != nil:
		return token{}, err
	case code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusForbidden:
		return token{}, fmt.Errorf("%w: http %d: the charger refused the login: %s", charger.ErrRejected, code, oauthError(reply))
	case code != http.StatusOK:
		return token{}, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, jsonfield.Snippet(reply))
	}
	t, err := parseToken(reply)
	if err != nil {
		return token{}, err
	}
	life := t.lifetime
	if life <= 0 {
		life = defaultTokenLifetime
	}
	return token{access: t.access, refresh: t.refresh, renewAt: c.now().Add(life - min(renewBefore, life/10))}, nil
}

// do sends one request within the driver's timeout and returns the status
// code and body. bearer, when set, authenticates it.
func (c *conn) do(ctx context.Context, method, path, contentType string, body []byte, bearer string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", contentType)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read reply: %w", err)
	}
	switch {
	case len(out) > maxReplyBytes:
		return 0, nil, fmt.Errorf("%w: reply larger than %d bytes", charger.ErrBadReply, maxReplyBytes)
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || jsonfield.LooksHTML(out):
		return 0, nil, fmt.Errorf("%w: http %d: got HTML, not JSON (is this an SMA EV Charger with firmware 1.2.23 or later?)",
			charger.ErrBadReply, resp.StatusCode)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return 0, nil, fmt.Errorf("%w: http %d: redirected to %q (HTTPS is not supported)",
			charger.ErrBadReply, resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.StatusCode, out, nil
}
