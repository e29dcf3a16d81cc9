package web

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// recoverPanics turns a panic in a handler into a logged 500 problem: one
// bad request never takes the daemon down.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic in http handler", "method", c.Request().Method, "path", c.Request().URL.Path,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = problem(http.StatusInternalServerError, "internal", "the server failed on this request; the log has the details")
		}()
		return next(c)
	}
}

// contentSecurityPolicy allows the page's own files only: no inline
// script, no other origin, framing only by the same origin (HA ingress).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		return next(c)
	}
}

// peerIP is the TCP peer's address, never a forwarded header.
func peerIP(r *http.Request) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return net.ParseIP(host)
}

// isProbe reports whether the path is a health probe: answered to anyone,
// without authentication (they tell nothing but up or down).
func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

// ingressOnly refuses, in ingress mode, every peer but the Supervisor: it
// authenticates Home Assistant's users, so nobody may go around it.
func (s *Server) ingressOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.cfg.Ingress || isProbe(c.Request().URL.Path) {
			return next(c)
		}
		peer := peerIP(c.Request())
		if peer == nil || !peer.Equal(net.ParseIP(s.ingressPeer)) {
			return problem(http.StatusForbidden, "not-supervisor", fmt.Sprintf(
				"ingress mode: only Home Assistant's Supervisor (%s) may connect, not %s; open evbridge from the Home Assistant sidebar",
				s.ingressPeer, c.Request().RemoteAddr))
		}
		return next(c)
	}
}

var ingressPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// basePath is the path prefix the browser sees this server under: Home
// Assistant's X-Ingress-Path in ingress mode (only the Supervisor gets
// this far there), else "".
func (s *Server) basePath(c echo.Context) string {
	if !s.cfg.Ingress {
		return ""
	}
	p := c.Request().Header.Get("X-Ingress-Path")
	if !ingressPathRE.MatchString(p) || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return ""
	}
	return p
}

// limitBody caps request bodies at maxBody bytes; readBody reports a
// larger one as 413.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > maxBody {
			return problem(http.StatusRequestEntityTooLarge, "too-large",
				fmt.Sprintf("the request body is %d bytes; at most %d are accepted", req.ContentLength, maxBody))
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, maxBody)
		}
		return next(c)
	}
}

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		var p *Problem
		if errors.As(err, &p) {
			status = p.Status
		}
		s.log.Debug("http request", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "took", time.Since(start).Round(time.Microsecond), "peer", c.Request().RemoteAddr)
		return err
	}
}

// sameOrigin protects state-changing requests against cross-site request
// forgery, in two independent ways:
//   - a POST must be Content-Type: application/json. An HTML form on
//     another site cannot send that, and a script on another site can only
//     after a CORS preflight, which this server never grants.
//   - a browser's Sec-Fetch-Site must say same-origin (or none: typed by
//     the user); without it, an Origin header must name this server.
//
// Clients that are not browsers send neither header and pass; they still
// need the token or password when one is set.
func (s *Server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if err := s.crossSite(req); err != nil {
			return problem(http.StatusForbidden, "cross-site", "cross-site request refused: "+err.Error())
		}
		if req.Method == http.MethodPost {
			ct := req.Header.Get(echo.HeaderContentType)
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != echo.MIMEApplicationJSON {
				return problem(http.StatusUnsupportedMediaType, "not-json",
					fmt.Sprintf("Content-Type must be application/json, got %q", truncate(ct, 60)))
			}
		}
		return next(c)
	}
}

func (s *Server) crossSite(req *http.Request) error {
	switch site := req.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return fmt.Errorf("the browser says it comes from another site (Sec-Fetch-Site: %s)", truncate(site, 30))
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the Origin header %q is not this server", truncate(origin, 80))
	}
	hosts := []string{req.Host}
	if s.cfg.Ingress {
		// Behind the Supervisor the browser's host is Home Assistant's.
		hosts = append(hosts, req.Header.Get("X-Forwarded-Host"))
	}
	for _, h := range hosts {
		if h != "" && strings.EqualFold(u.Host, h) {
			return nil
		}
	}
	return fmt.Errorf("the Origin header %s is not this server (%s)", truncate(origin, 80), truncate(req.Host, 80))
}
