package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/evbridge/evbridge/bridge"
)

// param is a path parameter, percent-decoded (echo matches the raw path).
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// readBody reads the (size-limited) request body.
func readBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(c.Request().Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the request body is larger than %d bytes", maxBody))
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "bad-body", "reading the request body: "+err.Error())
	}
	return body, nil
}

// decodeStrict decodes a JSON object body into v: unknown fields, wrong
// types and trailing data are errors. An empty body leaves v as it is.
func decodeStrict(c echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return problem(http.StatusBadRequest, "invalid-json",
				fmt.Sprintf("%s: expected a %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value))
		}
		return problem(http.StatusBadRequest, "invalid-json", "invalid JSON: "+err.Error())
	}
	if dec.More() {
		return problem(http.StatusBadRequest, "invalid-json", "invalid JSON: data after the object")
	}
	return nil
}

func noCharger(id string) *Problem {
	return problem(http.StatusNotFound, "unknown-charger", fmt.Sprintf("no charger %q; api/v1/chargers lists them", truncate(id, 80)))
}

func (s *Server) listChargers(c echo.Context) error {
	return sendJSON(c, http.StatusOK, s.b.Chargers())
}

func (s *Server) getCharger(c echo.Context) error {
	id := param(c, "id")
	v, ok := s.b.Charger(id)
	if !ok {
		return noCharger(id)
	}
	return sendJSON(c, http.StatusOK, v)
}

// commandAccepted answers a command that passed validation and is queued.
type commandAccepted struct {
	Charger  string         `json:"charger"`
	Accepted bridge.Command `json:"accepted"`
}

// command takes the same JSON as the MQTT topic <base>/<charger>/set, and
// goes through the same parser and the same Submit as MQTT does.
func (s *Server) command(c echo.Context) error {
	id := param(c, "id")
	if _, ok := s.b.Charger(id); !ok {
		return noCharger(id)
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	cmd, err := bridge.ParseSetJSON(body)
	if err != nil {
		return problem(http.StatusBadRequest, "invalid-command", err.Error()).withErrors(err)
	}
	if err := s.b.Submit(id, cmd, "http"); err != nil {
		if errors.Is(err, bridge.ErrUnknownCharger) {
			return noCharger(id)
		}
		if errors.Is(err, bridge.ErrStopping) {
			return problem(http.StatusServiceUnavailable, "shutting-down", err.Error())
		}
		return problem(http.StatusUnprocessableEntity, "command-refused", err.Error()).withErrors(err)
	}
	return sendJSON(c, http.StatusAccepted, commandAccepted{Charger: id, Accepted: cmd})
}

// siteDoc is GET api/v1/site.
type siteDoc struct {
	// Enabled is whether the solar and load controller runs.
	Enabled bool `json:"enabled"`
	// Decided is whether it has decided yet; State is its last decision.
	Decided bool              `json:"decided"`
	State   *bridge.SiteState `json:"state,omitempty"`
}

func (s *Server) siteNow() siteDoc {
	d := siteDoc{Enabled: s.b.SiteEnabled()}
	if st, ok := s.b.Site(); ok {
		d.Decided, d.State = true, &st
	}
	return d
}

func (s *Server) site(c echo.Context) error { return sendJSON(c, http.StatusOK, s.siteNow()) }

func (s *Server) listDiscovered(c echo.Context) error {
	return sendJSON(c, http.StatusOK, s.b.Pending())
}

func (s *Server) accept(c echo.Context) error {
	id := param(c, "id")
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	found := false
	for _, p := range s.b.Pending() {
		found = found || p.ID == id
	}
	if !found {
		return problem(http.StatusNotFound, "unknown-candidate", fmt.Sprintf("no discovered charger %q is waiting; api/v1/discovered lists them", truncate(id, 80)))
	}
	name, err := s.b.Accept(id, body.Name)
	if err != nil {
		if errors.Is(err, bridge.ErrStopping) {
			return problem(http.StatusServiceUnavailable, "shutting-down", err.Error())
		}
		return problem(http.StatusUnprocessableEntity, "accept-refused", err.Error()).withErrors(err)
	}
	return sendJSON(c, http.StatusCreated, map[string]string{"id": id, "charger": name})
}

// linkHealth is one charger's link in GET api/v1/health.
type linkHealth struct {
	ID          string   `json:"id"`
	Available   bool     `json:"available"`
	LinkProblem bool     `json:"link_problem"`
	LastError   string   `json:"last_error"`
	PollLatency float64  `json:"poll_latency"`
	LastSeen    string   `json:"last_seen,omitempty"`
	RSSI        *float64 `json:"rssi,omitempty"`
}

// healthDoc is GET api/v1/health.
type healthDoc struct {
	Status        string       `json:"status"`
	Version       string       `json:"version"`
	Ready         bool         `json:"ready"`
	MQTTConnected bool         `json:"mqtt_connected"`
	Broker        string       `json:"broker"`
	Chargers      []linkHealth `json:"chargers"`
	RecentErrors  []errorEntry `json:"recent_errors"`
}

func (s *Server) health(c echo.Context) error {
	d := healthDoc{Status: "ok", Version: s.version, Ready: s.b.Ready(), MQTTConnected: s.b.Connected(),
		Broker: redactURL(s.b.BrokerURL()), Chargers: []linkHealth{}, RecentErrors: s.errs.list()}
	for _, v := range s.b.Chargers() {
		st := v.State
		d.Chargers = append(d.Chargers, linkHealth{ID: v.ID, Available: v.Available, LinkProblem: st.LinkProblem,
			LastError: st.LastError, PollLatency: st.PollLatency, LastSeen: st.LastSeen, RSSI: st.RSSI})
		if !v.Available || st.LinkProblem {
			d.Status = "degraded"
		}
	}
	if !d.Ready {
		d.Status = "degraded"
	}
	return sendJSON(c, http.StatusOK, d)
}

// redactURL drops credentials from a broker URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

func (s *Server) healthz(c echo.Context) error {
	return sendJSON(c, http.StatusOK, map[string]string{"status": "alive"})
}

func (s *Server) readyz(c echo.Context) error {
	if !s.b.Ready() {
		return problem(http.StatusServiceUnavailable, "not-ready", "not connected to the MQTT broker "+redactURL(s.b.BrokerURL()))
	}
	return sendJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) serveMetrics(c echo.Context) error {
	if s.metrics == nil {
		return problem(http.StatusNotFound, "no-metrics", "metrics are not enabled in this process")
	}
	s.metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}
