package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem details object: every 4xx and 5xx answer
// of evbridge's web server carries one as application/problem+json.
type Problem struct {
	// Type is a URI naming the kind of problem, urn:evbridge:problem:<code>.
	Type string `json:"type"`
	// Title is the same short summary for every problem of the type.
	Title string `json:"title"`
	// Status repeats the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence: what was wrong and, where it
	// helps, what is expected instead.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path the problem occurred at.
	Instance string `json:"instance,omitempty"`
	// Errors lists each problem when there were several (e.g. two bad
	// fields of one command).
	Errors []string `json:"errors,omitempty"`

	headers http.Header
}

// problemMediaType is RFC 9457's media type.
const problemMediaType = "application/problem+json"

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// problem builds a Problem; code becomes the last part of its type URI.
func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:evbridge:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail}
}

// withErrors lists the parts of a joined error (errors.Join) of more
// than one problem in Errors.
func (p *Problem) withErrors(err error) *Problem {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) && len(multi.Unwrap()) > 1 {
		for _, e := range multi.Unwrap() {
			p.Errors = append(p.Errors, e.Error())
		}
	}
	return p
}

func (p *Problem) header(k, v string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Add(k, v)
	return p
}

// errorHandler is echo's HTTPErrorHandler: whatever went wrong, the client
// gets a problem document, and a 5xx is logged.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he):
		p = fromHTTPError(he, c)
	default:
		p = problem(http.StatusInternalServerError, "internal", "the request could not be completed; the log says why")
	}
	if p.Status >= 500 {
		s.log.Error("http request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", p.Status, "err", err)
	}
	p.Instance = c.Request().URL.Path
	for k, vs := range p.headers {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	c.Response().Header().Set(echo.HeaderContentType, problemMediaType)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	c.Response().WriteHeader(p.Status)
	_ = writeJSON(c.Response(), p)
}

// fromHTTPError turns echo's own errors (no route, wrong method) into
// problems that say what was asked.
func fromHTTPError(he *echo.HTTPError, c echo.Context) *Problem {
	req := c.Request()
	switch he.Code {
	case http.StatusNotFound:
		return problem(he.Code, "not-found", fmt.Sprintf("no such resource: %s (the API is under api/v1/, see api/v1/openapi.json)", truncate(req.URL.Path, 120)))
	case http.StatusMethodNotAllowed:
		allow := c.Response().Header().Get(echo.HeaderAllow)
		return problem(he.Code, "method-not-allowed", fmt.Sprintf("%s is not allowed on %s; allowed: %s", req.Method, truncate(req.URL.Path, 120), allow))
	case http.StatusRequestEntityTooLarge:
		return problem(he.Code, "too-large", fmt.Sprintf("the request body is larger than %d bytes", maxBody))
	}
	msg := http.StatusText(he.Code)
	if s, ok := he.Message.(string); ok && s != "" {
		msg = s
	}
	return problem(he.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-")), msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
