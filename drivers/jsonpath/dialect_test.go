package jsonpath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The dialect the generic_http charger was written with: "$", negative
// indices, quoted keys with escapes, numeric keys on arrays.
const genericDoc = `{"car":2,"nrg":[230,231,232,0,16.5],"data":{"E total":12.5,"list":[{"x":"y"}],"n":null},
"a.b":1,"$":"dollar","q\"k":true}`

func decoded(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGenericDialect(t *testing.T) {
	d := decoded(t, genericDoc)
	cases := []struct {
		path, want string // want "" means not found
	}{
		{"car", "2"},
		{"$.car", "2"},
		{"$car", "2"},
		{"nrg[4]", "16.5"},
		{"nrg[-1]", "16.5"},
		{"nrg.4", "16.5"},
		{"nrg.04", ""},
		{"nrg.-1", ""},
		{"nrg[-5]", "230"},
		{"nrg[5]", ""},
		{"nrg[-6]", ""},
		{`data["E total"]`, "12.5"},
		{`data['E total']`, "12.5"},
		{"data.E total", "12.5"},
		{"data.list[0].x", "y"},
		{`$["a.b"]`, "1"},
		{`$["$"]`, "dollar"},
		{`$["q\"k"]`, "true"},
		{`$['q"k']`, "true"},
		{"data.n", ""},
		{"data.list", `[{"x":"y"}]`},
		{"car.x", ""},
		{"nrg.x", ""},
		{"data[0]", ""},
		{"missing", ""},
	}
	for _, c := range cases {
		p, err := Parse(c.path)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		v, found := p.Find(d)
		if got := Text(v); found != (c.want != "") || got != c.want {
			t.Errorf("%q = %q (found %t), want %q", c.path, got, found, c.want)
		}
		again, err := Parse(p.Canonical())
		if err != nil || !reflect.DeepEqual(again.steps, p.steps) {
			t.Errorf("%q: canonical %q parses to %v, %v", c.path, p.Canonical(), again.steps, err)
		}
	}
}

func TestGenericDialectErrors(t *testing.T) {
	for path, want := range map[string]string{
		"$.":                     "names no value",
		".a":                     "cannot start with '.'",
		"a..b":                   "empty key",
		"a.":                     "empty key",
		"a[1":                    "unclosed [",
		"a[x]":                   `index "x" is not a whole number`,
		"a[1.5]":                 "not a whole number",
		"a[]":                    "not a whole number",
		"a[1]b":                  "want '.' or '['",
		`a["x]`:                  "unclosed quote",
		`a["x"`:                  "must end with ]",
		"a]":                     "belongs in brackets",
		`a"b`:                    "belongs in brackets",
		"a[99999999]":            "not a whole number",
		strings.Repeat("a", 300): "longer than",
	} {
		if _, err := Parse(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", path, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"car", "$.a.b[2]", `x["y z"][-1]`, `$['q\'']`, "a[", "[0]", "$[\"\\u0000\"]", ".", "a..b"} {
		f.Add(s, []byte(genericDoc))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := Parse(path)
		if err != nil {
			return
		}
		// The canonical form can be longer than what was written ("$."
		// and quoting); past MaxLen Parse refuses it by design.
		if c := p.Canonical(); len(c) > MaxLen {
			if _, err := Parse(c); err == nil || !strings.Contains(err.Error(), "longer than") {
				t.Fatalf("%q: canonical %q over the limit: %v", path, c, err)
			}
			return
		}
		again, err := Parse(p.Canonical())
		if err != nil || !reflect.DeepEqual(again.steps, p.steps) {
			t.Fatalf("%q: canonical %q parses to %v, %v; want %v", path, p.Canonical(), again.steps, err, p.steps)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if got, found := p.Find(v); found && got == nil {
			t.Fatalf("found a null at %q", path)
		}
	})
}
