package smaev

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/drivers/httpsim"
)

// replies are the broken bodies a charger could send: a live reply cut
// short, and the web UI's page.
var replies = httpsim.Replies{
	Garbage: `[{"channelId":"Measurement.Operation.EVeh.ChaStt","componentId":"IGULD:SELF","values":[{"time":"2026-`,
	HTML:    "<!DOCTYPE html><html><head><title>SMA EV Charger</title></head><body><app-root></app-root></body></html>",
}

const maxBody = 64 << 10

// handler serves the charger's REST API.
func (s *Simulator) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.srv.Count(req.Method + " " + req.URL.Path)
		if s.srv.Misbehave(w, req, replies) {
			return
		}
		s.route(w, req)
	})
}

func (s *Simulator) route(w http.ResponseWriter, req *http.Request) {
	path := strings.TrimSuffix(req.URL.Path, "/")
	var serve func(http.ResponseWriter, []byte)
	method := http.MethodPost
	switch path {
	case pathToken:
		s.serveToken(w, req)
		return
	case pathMeasurements:
		serve = s.serveMeasurements
	case strings.TrimSuffix(pathParameters, "/"):
		serve = s.serveParameters
	case strings.TrimSuffix(pathSetParams, "/"):
		serve, method = s.servePut, http.MethodPut
	default:
		writeError(w, http.StatusNotFound, "not_found", "")
		return
	}
	if req.Method != method {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "")
		return
	}
	if !s.authorized(req) {
		// RFC 6750 §3.1; the body is a VERIFY item (package doc).
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "cannot read the body")
		return
	}
	serve(w, body)
}

func (s *Simulator) authorized(req *http.Request) bool {
	h := req.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev.authorized(strings.TrimSpace(h[7:]), s.now())
}

// serveToken is POST /api/v1/token: an OAuth 2 password or refresh_token
// grant, answered as RFC 6749 §5.1/§5.2 say (VERIFY: the error replies).
func (s *Simulator) serveToken(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "")
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, maxBody)
	if !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || req.ParseForm() != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "want a form")
		return
	}
	f := req.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch f.Get("grant_type") {
	case "password":
		user, pass := f.Get("username"), f.Get("password")
		switch {
		case strings.EqualFold(user, "admin"):
			writeError(w, http.StatusBadRequest, "invalid_grant", `user "admin" is not allowed`)
			return
		case subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) != 1:
			writeError(w, http.StatusBadRequest, "invalid_grant", "wrong username or password")
			return
		}
		s.dev.logins++
	case "refresh_token":
		if !s.dev.useRefresh(f.Get("refresh_token"), now) {
			writeError(w, http.StatusBadRequest, "invalid_grant", "refresh token invalid or expired")
			return
		}
		s.dev.refreshes++
	case "":
		writeError(w, http.StatusBadRequest, "invalid_request", "grant_type missing")
		return
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	access, refresh := s.dev.issue(s.cfg, now)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer",
		"expires_in": int(s.cfg.TokenLifetime / time.Second), "refresh_token": refresh})
}

// queryComponents decodes a list of {"componentId": "..."} and tells
// whether the charger's own component is asked for.
func queryComponents(raw json.RawMessage) (self, ok bool) {
	var q []map[string]json.RawMessage
	if json.Unmarshal(raw, &q) != nil || q == nil {
		return false, false
	}
	for _, item := range q {
		var id string
		if item == nil || json.Unmarshal(item["componentId"], &id) != nil {
			return false, false
		}
		self = self || id == component
	}
	return self, true
}

// serveMeasurements is POST /api/v1/measurements/live.
func (s *Simulator) serveMeasurements(w http.ResponseWriter, body []byte) {
	self, ok := queryComponents(body)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", `want [{"componentId":"..."}]`)
		return
	}
	out := []map[string]any{}
	if self {
		s.mu.Lock()
		out = s.dev.measurements()
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// serveParameters is POST /api/v1/parameters/search/.
func (s *Simulator) serveParameters(w http.ResponseWriter, body []byte) {
	var q struct {
		QueryItems json.RawMessage `json:"queryItems"`
	}
	self, ok := false, json.Unmarshal(body, &q) == nil
	if ok {
		self, ok = queryComponents(q.QueryItems)
	}
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"queryItems":[{"componentId":"..."}]}`)
		return
	}
	out := []map[string]any{}
	if self {
		s.mu.Lock()
		out = s.dev.parametersJSON(s.cfg, s.now())
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// servePut is PUT /api/v1/parameters/IGULD:SELF/: every value is checked
// before any is applied.
func (s *Simulator) servePut(w http.ResponseWriter, body []byte) {
	var in struct {
		Values []struct {
			Timestamp *string `json:"timestamp"`
			ChannelID *string `json:"channelId"`
			Value     *string `json:"value"`
		} `json:"values"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&in) != nil || len(in.Values) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"values":[{"timestamp","channelId","value"}]}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.dev
	for _, v := range in.Values {
		if v.Timestamp == nil || v.ChannelID == nil || v.Value == nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "timestamp, channelId and value are required")
			return
		}
		if _, err := time.Parse(timestampLayout, *v.Timestamp); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "bad timestamp "+strconv.Quote(*v.Timestamp))
			return
		}
		if msg := next.set(s.cfg, *v.ChannelID, *v.Value); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid_value", msg)
			return
		}
	}
	next.puts++
	s.dev = next
	s.dev.offer(s.cfg, s.car)
	w.WriteHeader(http.StatusNoContent)
}

// set applies one written value, or says why the device refuses it.
func (e *device) set(cfg SimConfig, channel, value string) string {
	var p *simParam
	params := e.parameters(cfg)
	for i := range params {
		if params[i].id == channel {
			p = &params[i]
		}
	}
	switch {
	case p == nil:
		return "unknown channel " + strconv.Quote(channel)
	case !p.editable:
		return "channel " + strconv.Quote(channel) + " is read-only"
	case p.possible != nil && !slices.Contains(p.possible, value):
		return "value " + strconv.Quote(value) + " not in " + strings.Join(p.possible, ", ")
	}
	switch channel {
	case chMode:
		e.mode = value
	case chAppLock:
		e.appLock = value == lockOn
	case chCurrentLimit:
		a, err := strconv.ParseFloat(value, 64)
		if err != nil || !(a >= minCurrent) || a > cfg.MaxCurrent || math.Round(a*100)/100 != a {
			return "current " + strconv.Quote(value) + " not a number of 6.00.." + formatAmps(cfg.MaxCurrent) + " A with at most 2 decimals"
		}
		e.limit = a
	}
	return ""
}

func writeError(w http.ResponseWriter, code int, err, desc string) {
	m := map[string]string{"error": err}
	if desc != "" {
		m["error_description"] = desc
	}
	writeJSON(w, code, m)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
