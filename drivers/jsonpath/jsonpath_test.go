package jsonpath

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

const doc = `{"emeters":[{"power":-12.5},{"power":"7"}],"value":3,"a.b":{"c d":[1,[2,"x"]]},
"state":"unavailable","n":null,"t":"2024-06-01T12:00:00+02:00","ms":1717236000123,"s":1717236000.5}`

func TestLookupNumber(t *testing.T) {
	d, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want float64
		err  string
	}{
		{"emeters[0].power", -12.5, ""},
		{"emeters.1.power", 7, ""},
		{"value_json.value", 3, ""},
		{"value", 3, ""},
		{`['a.b']["c d"][1][0]`, 2, ""},
		{`['a.b']["c d"][1][1]`, 0, `"x" is not a number`},
		{"state", 0, `"unavailable" is not a number`},
		{"n", 0, "null"},
		{"emeters[2].power", 0, "no such value at emeters[2] (in an array)"},
		{"emeters.power", 0, "no such value at emeters.power"},
		{"value.x", 0, "under a scalar"},
		{"emeters", 0, "array is not a number"},
		{"", 0, "object is not a number"},
	}
	for _, c := range cases {
		p, err := Parse(c.path)
		if err != nil {
			t.Errorf("parse %q: %v", c.path, err)
			continue
		}
		v, err := p.Lookup(d)
		var f float64
		if err == nil {
			f, err = Number(v)
		}
		switch {
		case c.err == "" && (err != nil || f != c.want):
			t.Errorf("%q = %v, %v; want %v", c.path, f, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: err = %v, want %q", c.path, err, c.err)
		}
	}
	p, _ := Parse("n")
	v, _ := p.Lookup(d)
	if _, err := Number(v); !errors.Is(err, ErrNull) {
		t.Errorf("null: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{".a", "a.", "a..b", "a[", "a[x]", "a[+1]", "a['b]", "a]b[0]x", "a[0]b"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestTime(t *testing.T) {
	d, _ := Decode([]byte(doc))
	want := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	for path, w := range map[string]time.Time{
		"t": want, "ms": want.Add(123 * time.Millisecond), "s": want.Add(500 * time.Millisecond),
	} {
		p, _ := Parse(path)
		v, _ := p.Lookup(d)
		got, err := Time(v)
		if err != nil || !got.Equal(w) {
			t.Errorf("%s: %v, %v; want %v", path, got, err, w)
		}
	}
	for _, bad := range []any{"yesterday", -5.0, nil, true} {
		if _, err := Time(bad); err == nil {
			t.Errorf("Time(%v) accepted", bad)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, bad := range []string{"", "{", `{"a":1} {"b":2}`, "NaN", "[1,]"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
	if v, err := Decode([]byte(" 42 \n")); err != nil || v == nil {
		t.Errorf("plain number: %v %v", v, err)
	}
}

// FuzzLookup: any path and document parse, look up and convert without
// panicking, and a number that comes out is finite.
func FuzzLookup(f *testing.F) {
	f.Add(doc, "emeters[0].power")
	f.Add(`[[[1]]]`, "[0][0].0")
	f.Add(`{"a":{"b":"1e309"}}`, `a['b']`)
	f.Fuzz(func(t *testing.T, body, path string) {
		p, err := Parse(path)
		if err != nil {
			return
		}
		_ = p.String()
		d, err := Decode([]byte(body))
		if err != nil {
			return
		}
		v, err := p.Lookup(d)
		if err != nil {
			return
		}
		if f, err := Number(v); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Fatalf("non-finite %v", f)
		}
		_, _ = Time(v)
	})
}
