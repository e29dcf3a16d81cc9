package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed ui
var uiFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// asset is one embedded file, with its gzip form and validator ready.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

var assets = loadAssets()

func loadAssets() map[string]*asset {
	out := map[string]*asset{}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json"}
	entries, err := fs.ReadDir(uiFiles, "ui")
	if err != nil {
		panic(fmt.Sprintf("web: embedded ui: %v", err))
	}
	add := func(name string, body []byte) {
		sum := sha256.Sum256(body)
		a := &asset{body: body, contentType: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
		out[name] = a
	}
	for _, e := range entries {
		body, err := uiFiles.ReadFile("ui/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("web: embedded ui: %v", err))
		}
		add(e.Name(), body)
	}
	add("openapi.json", openAPIDoc)
	return out
}

// serveAsset answers a with revalidation (ETag) and gzip when accepted.
func serveAsset(c echo.Context, a *asset) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.contentType)
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("ETag", a.etag)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := a.body
	if a.gz != nil && acceptsGzip(c.Request()) {
		h.Set(echo.HeaderContentEncoding, "gzip")
		body = a.gz
	}
	return c.Blob(http.StatusOK, a.contentType, body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAcceptEncoding), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func (s *Server) asset(c echo.Context) error {
	name := param(c, "file")
	a, ok := assets[name]
	if !ok || name == "index.html" || name == "openapi.json" {
		return problem(http.StatusNotFound, "not-found", fmt.Sprintf("no asset %q", truncate(name, 80)))
	}
	return serveAsset(c, a)
}

// index serves the page with the base path Home Assistant's ingress shows
// it under, so that its links work there; elsewhere the links stay
// relative.
func (s *Server) index(c echo.Context) error {
	base := s.basePath(c)
	if base == "" {
		return serveAsset(c, assets["index.html"])
	}
	page := strings.ReplaceAll(string(assets["index.html"].body), `content="./"`, `content="`+html.EscapeString(base)+`/"`)
	page = strings.ReplaceAll(page, `="./assets/`, `="`+html.EscapeString(base)+`/assets/`)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.HTMLBlob(http.StatusOK, []byte(page))
}

func (s *Server) openAPI(c echo.Context) error { return serveAsset(c, assets["openapi.json"]) }
