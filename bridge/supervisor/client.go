// Package supervisor runs evbridge as a Home Assistant add-on ("app"): it
// reads the options the user set in the add-on's Configuration tab from
// /data/options.json, asks the Supervisor's services API which MQTT broker
// to use, and turns both into an ordinary config.Config, validated by the
// same rules as a config file. ha/addon/DOCS.md is the user's side of it.
package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of the add-on's runtime contract.
const (
	// DefaultURL is the Supervisor's address inside an add-on container.
	DefaultURL = "http://supervisor"
	// TokenEnv is the environment variable the Supervisor puts the
	// add-on's API token in; its presence means evbridge is an add-on.
	TokenEnv = "SUPERVISOR_TOKEN"
)

// Errors the services API call is classified by.
var (
	// ErrUnreachable means no HTTP answer came back (DNS, refused, timeout).
	ErrUnreachable = errors.New("supervisor unreachable")
	// ErrServiceNotEnabled means no add-on provides MQTT: the Mosquitto
	// broker add-on is not installed or not started.
	ErrServiceNotEnabled = errors.New("MQTT service not enabled")
	// ErrUnauthorized means the Supervisor refused the token; retrying
	// does not help.
	ErrUnauthorized = errors.New("supervisor refused the add-on token")
	// errServer is a 5xx answer: the Supervisor is up but failing.
	errServer = errors.New("supervisor error")
)

// MQTTService is the broker the Supervisor's services API names: the one
// an add-on such as Mosquitto provides.
type MQTTService struct {
	Host     string
	Port     int
	SSL      bool
	Username string
	Password string
	// Protocol is 3.1 or 3.1.1; evbridge negotiates by itself.
	Protocol string
	// Addon is the slug of the add-on that provides the service.
	Addon string
}

// BrokerURL is the service as an MQTT URL for config.MQTT.Broker.
func (s MQTTService) BrokerURL() string {
	scheme := "tcp"
	if s.SSL {
		scheme = "mqtts"
	}
	host := s.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + strconv.Itoa(s.Port)
}

// Client calls the Supervisor's REST API.
type Client struct {
	// BaseURL is the Supervisor's address, DefaultURL in an add-on.
	BaseURL string
	// Token is the add-on's SUPERVISOR_TOKEN.
	Token string
	// HTTP is the client used; nil means one with a 10 s timeout.
	HTTP *http.Client
}

// envelope is the Supervisor's answer around every API result.
type envelope struct {
	Result  string          `json:"result"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// serviceData is the data of GET /services/mqtt. The port is an integer in
// the Supervisor's code but a string in its documentation's example, so
// both are accepted. "addon" is the v1 key, "app" the v2 one.
type serviceData struct {
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"`
	SSL      bool            `json:"ssl"`
	Username string          `json:"username"`
	Password string          `json:"password"`
	Protocol string          `json:"protocol"`
	Addon    string          `json:"addon"`
	App      string          `json:"app"`
}

// MQTT asks the Supervisor which MQTT broker to use. Errors wrap
// ErrUnreachable, ErrServiceNotEnabled or ErrUnauthorized where they apply;
// any other error is an answer evbridge does not understand.
func (c *Client) MQTT(ctx context.Context) (MQTTService, error) {
	base := strings.TrimSuffix(c.BaseURL, "/")
	if base == "" {
		base = DefaultURL
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/services/mqtt", nil)
	if err != nil {
		return MQTTService{}, fmt.Errorf("supervisor request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return MQTTService{}, fmt.Errorf("%w at %s: %w", ErrUnreachable, base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return MQTTService{}, fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
	var env envelope
	jsonErr := json.Unmarshal(body, &env)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return MQTTService{}, fmt.Errorf("%w (HTTP %d%s)", ErrUnauthorized, resp.StatusCode, suffix(env.Message))
	case jsonErr == nil && env.Result == "error" && strings.Contains(strings.ToLower(env.Message), "not enabled"):
		return MQTTService{}, fmt.Errorf("%w (Supervisor: %q)", ErrServiceNotEnabled, env.Message)
	case resp.StatusCode >= 500:
		return MQTTService{}, fmt.Errorf("%w: HTTP %d%s", errServer, resp.StatusCode, suffix(env.Message))
	case jsonErr != nil:
		return MQTTService{}, fmt.Errorf("supervisor answered HTTP %d with something other than JSON: %w", resp.StatusCode, jsonErr)
	case env.Result != "ok" || resp.StatusCode != http.StatusOK:
		return MQTTService{}, fmt.Errorf("supervisor answered HTTP %d, result %q%s", resp.StatusCode, env.Result, suffix(env.Message))
	}
	return parseService(env.Data)
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func parseService(raw json.RawMessage) (MQTTService, error) {
	var d serviceData
	if err := json.Unmarshal(raw, &d); err != nil {
		return MQTTService{}, fmt.Errorf("supervisor MQTT service data: %w", err)
	}
	port, err := parsePort(d.Port)
	if err != nil {
		return MQTTService{}, fmt.Errorf("supervisor MQTT service data: port: %w", err)
	}
	if d.Host == "" {
		return MQTTService{}, errors.New("supervisor MQTT service data has no host")
	}
	s := MQTTService{Host: d.Host, Port: port, SSL: d.SSL, Username: d.Username, Password: d.Password,
		Protocol: d.Protocol, Addon: d.Addon}
	if s.Addon == "" {
		s.Addon = d.App
	}
	return s, nil
}

// parsePort accepts 1883 or "1883".
func parsePort(raw json.RawMessage) (int, error) {
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("expected a number, got %s", raw)
		}
		if n, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return 0, fmt.Errorf("expected a number, got %q", s)
		}
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is not a TCP port", n)
	}
	return n, nil
}

// Retry is how long evbridge keeps asking for the broker at start.
type Retry struct {
	// Attempts is how many calls are made in all, at least 1.
	Attempts int
	// Initial is the first wait; each wait doubles up to Max.
	Initial, Max time.Duration
}

// DefaultRetry asks 10 times over about two and a half minutes (1 s, 2 s,
// 4 s … capped at 30 s): long enough for the Mosquitto add-on to start
// after a host reboot, short enough that a broken setup fails visibly.
var DefaultRetry = Retry{Attempts: 10, Initial: time.Second, Max: 30 * time.Second}

// WaitMQTT calls MQTT until it succeeds, retrying with exponential backoff
// while the Supervisor is unreachable, answers 5xx or has no MQTT provider
// yet. A refused token or an answer evbridge does not understand is not
// retried. The last error says what to do about it.
func WaitMQTT(ctx context.Context, c *Client, r Retry, log *slog.Logger) (MQTTService, error) {
	if r.Attempts < 1 {
		r.Attempts = 1
	}
	wait := r.Initial
	var err error
	for attempt := 1; ; attempt++ {
		var s MQTTService
		if s, err = c.MQTT(ctx); err == nil {
			return s, nil
		}
		if !retryable(err) || attempt >= r.Attempts {
			break
		}
		log.Warn("cannot get the MQTT broker from the Supervisor; retrying", "attempt", attempt, "of", r.Attempts, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return MQTTService{}, fmt.Errorf("waiting for the Supervisor: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, max(r.Max, r.Initial))
	}
	return MQTTService{}, fmt.Errorf("get the MQTT broker from the Supervisor: %w%s", err, hint(err))
}

func retryable(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrServiceNotEnabled) || errors.Is(err, errServer)
}

func hint(err error) string {
	switch {
	case errors.Is(err, ErrServiceNotEnabled):
		return "; install and start the Mosquitto broker add-on (Settings > Add-ons), then start evbridge again"
	case errors.Is(err, ErrUnauthorized):
		return "; restart the add-on so the Supervisor issues a new token"
	case errors.Is(err, ErrUnreachable):
		return "; evbridge must run as a Home Assistant add-on for this (use evbridge run -c FILE elsewhere)"
	}
	return ""
}
