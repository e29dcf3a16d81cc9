package goe

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/evbridge/evbridge/bridge/charger"
)

// DetectAPI tells which local HTTP API the go-e Charger at addr (host or
// host:port) speaks: 2 when GET /api/status?filter=alw answers with alw
// (evcc probes the same way, protocols.md §1), else 1 when GET /status
// answers with a status object. A box with both APIs on reports 2, the
// richer one (phase switching). It is meant for setup and discovery, not
// for the drivers, which do no I/O when built.
//
// It costs one request for a v2 box, two otherwise. An unreachable host
// gives the network error; a host that answers neither as a go-e Charger
// gives charger.ErrBadReply.
func DetectAPI(ctx context.Context, addr string) (version int, err error) {
	base, err := baseURL(addr)
	if err != nil {
		return 0, err
	}
	c := conn{base: base, timeout: defaultTimeout, client: newClient(defaultTimeout), htmlHint: "not a go-e API"}
	defer c.client.CloseIdleConnections()

	code, body, err := c.get(ctx, "/api/status?filter=alw")
	switch {
	case err != nil && !errors.Is(err, charger.ErrBadReply):
		return 0, fmt.Errorf("goe: detect api: %w", err)
	case err == nil && (code == http.StatusOK || code == http.StatusBadRequest) && hasKey(body, "alw"):
		return 2, nil
	}
	code, body, err = c.get(ctx, "/status")
	switch {
	case err != nil && !errors.Is(err, charger.ErrBadReply):
		return 0, fmt.Errorf("goe: detect api: %w", err)
	case err == nil && code == http.StatusOK && hasKey(body, "car") && hasKey(body, "alw"):
		return 1, nil
	}
	return 0, fmt.Errorf("goe: detect api at %s: %w: neither /api/status nor /status answered as a go-e Charger "+
		"(is an HTTP API enabled in the app?)", base, charger.ErrBadReply)
}

// hasKey reports whether body is a JSON object with key.
func hasKey(body []byte, key string) bool {
	m, err := v1Object(body)
	if err != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
