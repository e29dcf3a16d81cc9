package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/supervisor"
)

// Where `evbridge healthcheck` asks when no --url is given.
const (
	healthURLEnv       = "EVBRIDGE_HEALTHCHECK_URL"
	defaultHealthURL   = "http://127.0.0.1:8080/healthz"
	addonHealthURL     = "http://127.0.0.1:8099/healthz"
	healthcheckTimeout = 3 * time.Second
)

// cmdHealthcheck asks the running daemon's /healthz, for the container
// image's HEALTHCHECK: exit 0 when it answers 200 in time, else 1.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("healthcheck", stderr)
	flagURL := fs.String("url", "", "URL of the daemon's /healthz (default $"+healthURLEnv+"; else "+
		addonHealthURL+" in a Home Assistant add-on, else "+defaultHealthURL+")")
	timeout := fs.Duration("timeout", healthcheckTimeout, "longest wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u := healthURL(*flagURL, os.Getenv)
	if err := checkHealth(ctx, u, *timeout); err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	fmt.Fprintln(stdout, "healthy:", u)
	return nil
}

// healthURL picks the URL: the flag, the environment, then the add-on's
// ingress port when the Supervisor's token says this is an add-on.
func healthURL(flagURL string, getenv func(string) string) string {
	switch {
	case flagURL != "":
		return flagURL
	case getenv(healthURLEnv) != "":
		return getenv(healthURLEnv)
	case getenv(supervisor.TokenEnv) != "":
		return addonHealthURL
	}
	return defaultHealthURL
}

// checkHealth GETs u and wants 200. Proxies from the environment are
// ignored (the daemon is local) and redirects are not followed.
func checkHealth(ctx context.Context, u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", u, err)
	}
	c := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and URL
		}
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("GET %s answered %s%s", u, resp.Status, msg)
	}
	return nil
}
