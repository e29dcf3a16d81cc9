package openevse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20
)

// conn is the HTTP side of the driver: one device, optional basic auth.
type conn struct {
	base       string // http://host:port
	user, pass string
	timeout    time.Duration
	client     *http.Client
}

func baseURL(address string) (string, error) {
	host := strings.TrimSpace(address)
	if host == "" {
		return "", errors.New("openevse: address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	u, err := url.Parse("http://" + host)
	if err != nil || u.Host != host || u.Path != "" {
		return "", fmt.Errorf("openevse: bad address %q", address)
	}
	return "http://" + host, nil
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // a LAN device: never through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// do sends one request within the driver's timeout and returns the status
// code and body. body, if not nil, is sent as JSON.
func (c *conn) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
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
	case resp.StatusCode == http.StatusUnauthorized:
		// The firmware asks for basic auth once www_username is set
		// (src/web_server.cpp requestPreProcess).
		if c.user == "" {
			return 0, nil, fmt.Errorf("%w: http 401: the charger asks for a login: set options username and password",
				charger.ErrRejected)
		}
		return 0, nil, fmt.Errorf("%w: http 401: the charger refused username %q and its password",
			charger.ErrRejected, c.user)
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || looksHTML(out):
		return 0, nil, fmt.Errorf("%w: http %d: got HTML, not JSON (is this an OpenEVSE with WiFi firmware v4 or later?)",
			charger.ErrBadReply, resp.StatusCode)
	}
	return resp.StatusCode, out, nil
}

func looksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}

// snippet quotes the start of a reply for an error message.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty)"
	}
	s := string(b)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
