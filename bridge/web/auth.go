package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// sessionCookie carries proof of the token for the browser (an
// EventSource cannot send an Authorization header).
const sessionCookie = "evbridge_session"

// sessionValue derives the cookie from the token: it proves the token
// without being it, needs no server state and dies when the token changes.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("evbridge web session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// equal compares secrets in constant time, whatever their lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

func (s *Server) authRequired() bool { return s.cfg.Token != "" || s.cfg.Username != "" }

// authenticate lets a request through with the bearer token, the session
// cookie or the basic-auth user and password, whichever are configured.
// In ingress mode Home Assistant has authenticated the user already, and
// ingressOnly has refused every other peer.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.authRequired() || s.cfg.Ingress {
			return next(c)
		}
		req := c.Request()
		authz := req.Header.Get(echo.HeaderAuthorization)
		if s.cfg.Token != "" {
			if scheme, tok, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, "Bearer") && equal(strings.TrimSpace(tok), s.cfg.Token) {
				return next(c)
			}
			if ck, err := req.Cookie(sessionCookie); err == nil && equal(ck.Value, s.sessionKey) {
				return next(c)
			}
		}
		if s.cfg.Username != "" {
			if u, p, ok := req.BasicAuth(); ok {
				// Both compared, always: no early exit tells which was wrong.
				userOK, passOK := equal(u, s.cfg.Username), equal(p, s.cfg.Password)
				if userOK && passOK {
					return next(c)
				}
			}
		}
		return s.unauthorized(authz != "")
	}
}

func (s *Server) unauthorized(tried bool) *Problem {
	var how []string
	if s.cfg.Token != "" {
		how = append(how, "Authorization: Bearer <http.token>")
	}
	if s.cfg.Username != "" {
		how = append(how, "HTTP basic auth with http.username and http.password")
	}
	detail := "authentication required: send " + strings.Join(how, " or ")
	if tried {
		detail = "wrong credentials: the Authorization header does not match; send " + strings.Join(how, " or ")
	}
	p := problem(http.StatusUnauthorized, "unauthorized", detail)
	if s.cfg.Token != "" {
		p.header("WWW-Authenticate", `Bearer realm="evbridge"`)
	}
	if s.cfg.Username != "" {
		p.header("WWW-Authenticate", `Basic realm="evbridge", charset="UTF-8"`)
	}
	return p
}

// login checks a token typed into the page and sets the session cookie.
func (s *Server) login(c echo.Context) error {
	if s.cfg.Token == "" {
		return problem(http.StatusConflict, "no-token", "this server has no http.token, so there is nothing to log in with")
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if !equal(body.Token, s.cfg.Token) {
		return s.unauthorized(true)
	}
	c.SetCookie(s.cookie(c, s.sessionKey, 30*24*time.Hour))
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) logout(c echo.Context) error {
	c.SetCookie(s.cookie(c, "", -1))
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) cookie(c echo.Context, value string, age time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: sessionCookie, Value: value, Path: s.basePath(c) + "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https"}
	if age < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(age.Seconds())
	}
	return ck
}
