package shelly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 256 << 10
)

// ErrAuth means the device refused the credentials, or wants some.
var ErrAuth = errors.New("authentication failed")

// rpc calls Gen2 RPC methods with GET /rpc/<Method>?id=N.
type rpc struct {
	base    string // http://host:port
	timeout time.Duration
	client  *http.Client
	auth    *digestAuth // nil without a password
}

// baseURL turns host or host:port into http://host:port (port 80).
func baseURL(address string) (string, error) {
	host := strings.TrimSpace(address)
	if host == "" {
		return "", errors.New("address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	u, err := url.Parse("http://" + host)
	if err != nil || u.Host != host || u.Path != "" {
		return "", fmt.Errorf("bad address %q", address)
	}
	return "http://" + host, nil
}

func newRPC(address, password string, timeout time.Duration) (*rpc, error) {
	base, err := baseURL(address)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	tr := &http.Transport{
		Proxy:               nil, // a LAN device: never through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	r := &rpc{base: base, timeout: timeout, client: &http.Client{Transport: tr}}
	if password != "" {
		r.auth = &digestAuth{password: password}
	}
	return r, nil
}

// rpcError is the error object a Gen2 device answers a failed call with.
type rpcError struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// call runs method on component id and returns the JSON result.
func (r *rpc) call(ctx context.Context, method string, id int) ([]byte, error) {
	uri := "/rpc/" + method + "?id=" + strconv.Itoa(id)
	for attempt := 0; ; attempt++ {
		code, hdr, body, err := r.get(ctx, uri)
		if err != nil {
			return nil, err
		}
		if code == http.StatusUnauthorized {
			if r.auth == nil {
				return nil, fmt.Errorf("%w: the device has authentication on: set the password option", ErrAuth)
			}
			ch, err := parseChallenge(hdr.Get("WWW-Authenticate"))
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrAuth, err)
			}
			r.auth.update(ch)
			if attempt == 0 {
				continue
			}
			return nil, fmt.Errorf("%w: the device refused the password (user %s)", ErrAuth, authUser)
		}
		return reply(code, body)
	}
}

// reply checks an answer: 200 with a JSON object, or an RPC error.
func reply(code int, body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	var e rpcError
	isObject := len(trimmed) > 0 && trimmed[0] == '{'
	if isObject && code != http.StatusOK && json.Unmarshal(trimmed, &e) == nil && e.Code != nil {
		return nil, fmt.Errorf("rpc error %d: %s (http %d)", *e.Code, snippet([]byte(e.Message)), code)
	}
	switch {
	case code != http.StatusOK:
		return nil, fmt.Errorf("http %d: %s", code, snippet(body))
	case len(trimmed) > 0 && trimmed[0] == '<':
		return nil, errors.New("got HTML, not JSON (is this a Shelly Gen2 or later device?)")
	case !isObject:
		return nil, fmt.Errorf("reply is not a JSON object: %q", snippet(body))
	}
	return trimmed, nil
}

// get sends one GET within the timeout, signed when a challenge is
// known.
func (r *rpc) get(ctx context.Context, uri string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+uri, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.auth != nil {
		if h := r.auth.header(http.MethodGet, uri); h != "" {
			req.Header.Set("Authorization", h)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read reply: %w", err)
	}
	if len(body) > maxReplyBytes {
		return 0, nil, nil, fmt.Errorf("reply larger than %d bytes", maxReplyBytes)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// snippet is the start of a reply, for messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
