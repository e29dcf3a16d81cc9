package openevse

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/evbridge/evbridge/drivers/httpsim"
)

// replies are the broken bodies OpenEVSE gateways were seen to send.
var replies = httpsim.Replies{
	Garbage: `{"mode":"STA","state":3,"amp":15990,"pilot":1`,
	HTML:    "<html><body><a href=\"http://192.168.4.1\">OpenEVSE</a></body></html>",
}

// handler serves the gateway's HTTP API.
func (s *Simulator) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.srv.Count(req.Method + " " + req.URL.Path)
		if !s.authorized(req) {
			// src/web_server.cpp requestPreProcess: basic auth, realm is the
			// host name, empty body.
			w.Header().Set("WWW-Authenticate", "Basic realm="+s.cfg.Hostname)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if s.srv.Misbehave(w, req, replies) {
			return
		}
		s.route(w, req)
	})
}

func (s *Simulator) authorized(req *http.Request) bool {
	if s.cfg.Username == "" {
		return true
	}
	u, p, ok := req.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) == 1
}

func (s *Simulator) route(w http.ResponseWriter, req *http.Request) {
	path, method := req.URL.Path, req.Method
	switch {
	case path == "/status" && method == http.MethodGet:
		s.mu.Lock()
		v := s.statusJSON()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, v)
	case path == "/config" && method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.configJSON())
	case path == "/claims/target" && method == http.MethodGet:
		s.mu.Lock()
		v := s.targetJSON()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, v)
	case path == "/claims" || strings.HasPrefix(path, "/claims/"):
		id, all := clientID(strings.TrimPrefix(strings.TrimPrefix(path, "/claims"), "/"))
		s.serveClaims(w, req, id, all)
	case path == "/override":
		s.serveOverride(w, req)
	case path == "/status" || path == "/config":
		writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed")
	default:
		http.NotFound(w, req)
	}
}

// clientID parses a claim client the way the firmware's String.toInt
// (atol) does: leading digits, saturated to 32 bits; none means "all".
func clientID(s string) (id uint32, all bool) {
	if s == "" {
		return 0, true
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var v int64
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		v = min(v*10+int64(r-'0'), math.MaxInt32+1)
	}
	if neg {
		v = -v
	}
	v = max(min(v, math.MaxInt32), math.MinInt32)
	return uint32(int32(v)), false
}

const clientNull = math.MaxUint32 // EvseClient_NULL

func (s *Simulator) serveClaims(w http.ResponseWriter, req *http.Request, client uint32, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch req.Method {
	case http.MethodGet:
		if all {
			list := []map[string]any{}
			for _, c := range s.dev.claimList() {
				m := propsJSON(c)
				m["client"], m["priority"] = c.Client, c.Priority
				list = append(list, m)
			}
			writeJSON(w, http.StatusOK, list)
			return
		}
		c := s.dev.find(client)
		if c == nil {
			writeMsg(w, http.StatusNotFound, "Not found")
			return
		}
		m := propsJSON(*c)
		m["priority"] = c.Priority
		writeJSON(w, http.StatusOK, m)
	case http.MethodPost:
		if all || client == clientNull {
			writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
		c, ok := decodeProps(req)
		if !ok {
			writeMsg(w, http.StatusBadRequest, "Could not parse JSON")
			return
		}
		c.Client, c.Priority = client, priorityAPI
		if !s.dev.claim(c) {
			writeMsg(w, http.StatusBadRequest, "Could not make claim")
			return
		}
		s.dev.resolve(s.cfg)
		s.dev.offer(s.cfg, s.car)
		writeMsg(w, http.StatusOK, "done")
	case http.MethodDelete:
		if all || client == clientNull {
			writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
		if !s.dev.release(client) {
			writeMsg(w, http.StatusNotFound, "Not found")
			return
		}
		s.dev.resolve(s.cfg)
		s.dev.offer(s.cfg, s.car)
		writeMsg(w, http.StatusOK, "done")
	default:
		writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// serveOverride is /override: the manual claim at priority 1000
// (src/web_server.cpp handleOverride*, src/manual.cpp).
func (s *Simulator) serveOverride(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dev.offer(s.cfg, s.car)
	switch req.Method {
	case http.MethodGet:
		c := s.dev.find(clientManual)
		switch {
		case c != nil:
			writeJSON(w, http.StatusOK, propsJSON(*c))
		case s.cfg.OverrideNoneEmpty:
			writeJSON(w, http.StatusOK, map[string]any{})
		default:
			writeMsg(w, http.StatusNotFound, "Not found")
		}
	case http.MethodPost:
		c, ok := decodeProps(req)
		if !ok {
			writeMsg(w, http.StatusBadRequest, "Failed to parse JSON")
			return
		}
		c.Client, c.Priority = clientManual, priorityManual
		s.dev.claim(c)
		s.dev.resolve(s.cfg)
		writeMsg(w, http.StatusCreated, "Created")
	case http.MethodDelete:
		if !s.dev.release(clientManual) {
			writeMsg(w, http.StatusInternalServerError, "Failed to release manual overide")
			return
		}
		s.dev.resolve(s.cfg)
		writeMsg(w, http.StatusOK, "Deleted")
	case http.MethodPatch:
		s.dev.toggleOverride(s.cfg)
		writeMsg(w, http.StatusOK, "Updated")
	default:
		writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// decodeProps reads claim properties; "clear" or a missing key leaves a
// property unclaimed, a missing auto_release is false for a claim and
// true for an override (src/manual.cpp).
func decodeProps(req *http.Request) (SimClaim, bool) {
	var in struct {
		State         *string          `json:"state"`
		ChargeCurrent *json.RawMessage `json:"charge_current"`
		MaxCurrent    *json.RawMessage `json:"max_current"`
		AutoRelease   *bool            `json:"auto_release"`
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, 4096))
	if err != nil || json.Unmarshal(b, &in) != nil {
		return SimClaim{}, false
	}
	c := SimClaim{AutoRelease: req.URL.Path == "/override"}
	if in.AutoRelease != nil {
		c.AutoRelease = *in.AutoRelease
	}
	if in.State != nil && (*in.State == "active" || *in.State == "disabled") {
		c.State = *in.State
	}
	amps := func(r *json.RawMessage) (int, bool) {
		if r == nil || string(*r) == `"clear"` {
			return 0, true
		}
		var v uint8
		err := json.Unmarshal(*r, &v)
		return int(v), err == nil
	}
	var ok1, ok2 bool
	c.ChargeCurrent, ok1 = amps(in.ChargeCurrent)
	c.MaxCurrent, ok2 = amps(in.MaxCurrent)
	return c, ok1 && ok2
}

func propsJSON(c SimClaim) map[string]any {
	m := map[string]any{"auto_release": c.AutoRelease}
	if c.State != "" {
		m["state"] = c.State
	}
	if c.ChargeCurrent > 0 {
		m["charge_current"] = c.ChargeCurrent
	}
	if c.MaxCurrent > 0 {
		m["max_current"] = c.MaxCurrent
	}
	return m
}

func writeMsg(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"msg": msg})
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
