package generichttp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const doc = `{"car":2,"nrg":[230,231,232,0,16.5],"data":{"E total":12.5,"list":[{"x":"y"}],"n":null},
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

func TestJSONPath(t *testing.T) {
	d := decoded(t, doc)
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
		p, err := parsePath(c.path)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		v, found := p.eval(d)
		if got := textOf(v); found != (c.want != "") || got != c.want {
			t.Errorf("%q = %q (found %t), want %q", c.path, got, found, c.want)
		}
		again, err := parsePath(p.String())
		if err != nil || !reflect.DeepEqual(again.steps, p.steps) {
			t.Errorf("%q: canonical %q parses to %v, %v", c.path, p.String(), again.steps, err)
		}
	}
}

func TestJSONPathErrors(t *testing.T) {
	for path, want := range map[string]string{
		"":                       "empty path",
		"$":                      "names no value",
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
		if _, err := parsePath(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", path, err, want)
		}
	}
}

func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"car", "$.a.b[2]", `x["y z"][-1]`, `$['q\'']`, "a[", "[0]", "$[\"\\u0000\"]", ".", "a..b"} {
		f.Add(s, []byte(doc))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := parsePath(path)
		if err != nil {
			return
		}
		again, err := parsePath(p.String())
		if err != nil || !reflect.DeepEqual(again.steps, p.steps) {
			t.Fatalf("%q: canonical %q parses to %v, %v; want %v", path, p.String(), again.steps, err, p.steps)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if got, found := p.eval(v); found && got == nil {
			t.Fatalf("found a null at %q", path)
		}
	})
}

// FuzzFields runs the shipped goe definition over arbitrary replies: it
// must never panic, and what it accepts must be finite.
func FuzzFields(f *testing.F) {
	o, err := Builtin("goe")
	if err != nil {
		f.Fatal(err)
	}
	p, err := o.program()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{replyCharging, "{}", "[]", "null", `{"car":"x"}`, `{"car":2,"alw":1,"frc":{},"nrg":[1e999]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeJSON(body)
		if err != nil {
			return
		}
		st, _, err := p.state([]any{d})
		if err != nil {
			return
		}
		for _, v := range append(append([]float64{}, st.Currents...), st.Voltages...) {
			if v != v || v > 1e308 || v < -1e308 {
				t.Fatalf("non-finite value in %+v", st)
			}
		}
		if st.Phases != nil && *st.Phases != 1 && *st.Phases != 3 {
			t.Fatalf("phases %d", *st.Phases)
		}
	})
}
