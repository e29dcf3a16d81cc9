package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/web"
)

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// openAPIPath writes echo's /chargers/:id and /assets/:file as OpenAPI's
// /chargers/{id}.
func openAPIPath(p string) string {
	return regexp.MustCompile(`:([A-Za-z_]+)`).ReplaceAllString(p, "{$1}")
}

func loadDoc(t *testing.T, srv *web.Server) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", "/api/v1/openapi.json", nil)
	req.RemoteAddr = "127.0.0.1:1"
	rec := newRecorder()
	srv.Handler().ServeHTTP(rec, req)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// Every route of the router is in the document with its method, and every
// operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	for _, cfg := range []config.HTTP{{}, {Token: "t", Username: "u", Password: "p"}} {
		srv, err := web.New(web.Options{Bridge: stubBridge{}, HTTP: cfg})
		if err != nil {
			t.Fatal(err)
		}
		doc := loadDoc(t, srv)
		if doc["openapi"] != "3.1.0" {
			t.Fatalf("openapi version %v", doc["openapi"])
		}
		paths := doc["paths"].(map[string]any)
		routes := map[string]bool{}
		for _, r := range srv.Echo().Routes() {
			if !httpMethods[r.Method] {
				continue // echo's internal not-found routes
			}
			key := r.Method + " " + openAPIPath(r.Path)
			routes[key] = true
			item, ok := paths[openAPIPath(r.Path)].(map[string]any)
			if !ok || item[strings.ToLower(r.Method)] == nil {
				t.Errorf("route %s is not in openapi.json", key)
			}
		}
		if len(routes) < 15 {
			t.Fatalf("only %d routes: %v", len(routes), routes)
		}
		var documented []string
		for p, item := range paths {
			for m := range item.(map[string]any) {
				if httpMethods[strings.ToUpper(m)] {
					documented = append(documented, strings.ToUpper(m)+" "+p)
				}
			}
		}
		sort.Strings(documented)
		for _, op := range documented {
			if !routes[op] {
				t.Errorf("openapi.json documents %s, which is not a route", op)
			}
		}
	}
}

// The document is well formed: every operation has an id and responses,
// path parameters are declared, every $ref resolves.
func TestOpenAPIWellFormed(t *testing.T) {
	srv, err := web.New(web.Options{Bridge: stubBridge{}})
	if err != nil {
		t.Fatal(err)
	}
	doc := loadDoc(t, srv)
	ids := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		params := regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(p, -1)
		for m, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", m, p, id)
			}
			ids[id] = true
			if resp, _ := o["responses"].(map[string]any); len(resp) == 0 {
				t.Errorf("%s %s: no responses", m, p)
			}
			declared := map[string]bool{}
			list, _ := o["parameters"].([]any)
			for _, x := range list {
				if pm := x.(map[string]any); pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, want := range params {
				if !declared[want[1]] {
					t.Errorf("%s %s: path parameter %s not declared", m, p, want[1])
				}
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && !resolves(doc, ref) {
				t.Errorf("$ref %s does not resolve", ref)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)
}

func resolves(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
