package jsonfield

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestObject(t *testing.T) {
	for _, c := range []struct {
		body, want string // want: error substring, "" for success
	}{
		{` {"a":1,"b":"x"} `, ""},
		{"", "empty reply"},
		{"  \n", "empty reply"},
		{"<html>login</html>", "got HTML, not JSON"},
		{"[1,2]", `not a JSON object: "[1,2]"`},
		{`{"a":1`, "bad JSON"},
	} {
		m, err := Object([]byte(c.body), nil)
		switch {
		case c.want == "" && (err != nil || len(m) != 2):
			t.Errorf("Object(%q) = %v, %v", c.body, m, err)
		case c.want != "" && (!errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Object(%q) error %v, want ErrBadReply with %q", c.body, err, c.want)
		}
	}
}

func TestObjectRepair(t *testing.T) {
	var seen []byte
	fix := func(b []byte) []byte { seen = b; return append(bytes.Clone(b), '}') }
	m, err := Object([]byte(` {"a":1 `), fix)
	if err != nil || string(m["a"]) != "1" || string(seen) != `{"a":1` {
		t.Errorf("repaired: %v %v, repair saw %q", m, err, seen)
	}
	called := false
	if _, err := Object([]byte("<html>"), func(b []byte) []byte { called = true; return b }); err == nil || called {
		t.Errorf("HTML reached repair (%v) or passed (%v)", called, err)
	}
}

func TestSnippet(t *testing.T) {
	if got := Snippet([]byte("  ")); got != "(empty)" {
		t.Errorf("Snippet(blank) = %s", got)
	}
	if got := Snippet([]byte(" ab\n")); got != `"ab"` {
		t.Errorf("Snippet = %s", got)
	}
	long := strings.Repeat("x", 100)
	if got, want := Snippet([]byte(long)), `"`+long[:64]+`…"`; got != want {
		t.Errorf("Snippet(long) = %s, want %s", got, want)
	}
}

func TestLooksHTML(t *testing.T) {
	if !LooksHTML([]byte("\n <!DOCTYPE html>")) || LooksHTML([]byte(`{"a":"<"}`)) || LooksHTML(nil) {
		t.Error("LooksHTML misjudges")
	}
}

func TestPlain(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "Wall Connector ü": true, strings.Repeat("a", 32): true, strings.Repeat("a", 33): false,
		"a\nb": false, "a\x7fb": false, "\xff": false,
	} {
		if got := Plain(s, 32); got != want {
			t.Errorf("Plain(%q, 32) = %v, want %v", s, got, want)
		}
	}
}
