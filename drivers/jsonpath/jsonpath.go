// Package jsonpath finds values in JSON documents by a small path, for
// every driver that reads JSON by a path the user writes: the http_json
// and mqtt_topic meters and the generic_http charger.
//
// Syntax, a subset of JSONPath with no wildcards or filters, so that a
// path names one value:
//
//	car                 key "car" of the top object
//	$.data.power        a leading "$" or "$." is allowed
//	value_json.power    so is Home Assistant's "value_json."
//	nrg[11]             element 11 of an array; nrg[-1] is the last;
//	                    nrg.11 is nrg[11]
//	meter["E total"]    a key with any characters, quoted with " or '
//
// The empty path, and "$" alone, are the whole document.
package jsonpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors a lookup or conversion can wrap.
var (
	// ErrNotFound: the path leads nowhere in the document.
	ErrNotFound = errors.New("no such value")
	// ErrNull: the value is JSON null.
	ErrNull = errors.New("value is null")
)

// step is one key or one index.
type step struct {
	key     string
	index   int
	isIndex bool
}

// Path is a parsed path.
type Path struct {
	src   string
	steps []step
}

// MaxLen bounds a path; no real one comes close.
const MaxLen = 256

// String returns the path as written.
func (p Path) String() string { return p.src }

// Empty is whether the path is the whole document.
func (p Path) Empty() bool { return len(p.steps) == 0 }

// Parse parses a path; the error says where it went wrong.
func Parse(s string) (Path, error) {
	p := Path{src: s}
	fail := func(at int, format string, a ...any) (Path, error) {
		return Path{}, fmt.Errorf("path %q at byte %d: %s", s, at, fmt.Sprintf(format, a...))
	}
	if len(s) > MaxLen {
		return Path{}, fmt.Errorf("path longer than %d bytes", MaxLen)
	}
	if !utf8.ValidString(s) {
		return Path{}, errors.New("path is not valid UTF-8")
	}
	i := 0
	switch {
	case s == "value_json":
		return p, nil
	case strings.HasPrefix(s, "value_json."):
		i = len("value_json.")
	case strings.HasPrefix(s, "value_json["):
		i = len("value_json")
	}
	if i > 0 && i == len(s) {
		return fail(i, "empty key")
	}
	if s == "$" {
		return p, nil // the whole document, as the empty path
	}
	if strings.HasPrefix(s, "$") {
		i = 1
		if i < len(s) && s[i] == '.' {
			i++
		}
		if i == len(s) {
			return fail(i, "the path names no value")
		}
	}
	for i < len(s) {
		if s[i] == '[' {
			st, n, err := bracket(s[i:])
			if err != nil {
				return fail(i, "%v", err)
			}
			p.steps = append(p.steps, st)
			i += n
			continue
		}
		switch {
		case s[i] == '.' && len(p.steps) == 0:
			return fail(i, "a path cannot start with '.'")
		case s[i] == '.':
			i++
		case len(p.steps) > 0:
			return fail(i, "want '.' or '[' between steps")
		}
		j := i
		for j < len(s) && s[j] != '.' && s[j] != '[' {
			if s[j] == ']' || s[j] == '"' || s[j] == '\'' {
				return fail(j, "%q belongs in brackets", s[j])
			}
			j++
		}
		if j == i {
			return fail(i, "empty key")
		}
		p.steps = append(p.steps, step{key: s[i:j]})
		i = j
	}
	return p, nil
}

// bracket reads "[12]", "[-1]", `["key"]` or "['key']" at the start of s
// and returns the step and the bytes it used.
func bracket(s string) (step, int, error) {
	if len(s) > 1 && (s[1] == '"' || s[1] == '\'') {
		q, end := s[1], -1
		for k := 2; k < len(s); k++ {
			if s[k] == '\\' {
				k++
				continue
			}
			if s[k] == q {
				if k+1 >= len(s) || s[k+1] != ']' {
					return step{}, 0, errors.New("a quoted key must end with ]")
				}
				end = k + 1
				break
			}
		}
		if end < 0 {
			return step{}, 0, errors.New("unclosed quote")
		}
		raw := s[1:end]
		if q == '\'' {
			raw = `"` + strings.ReplaceAll(strings.ReplaceAll(raw[1:len(raw)-1], `\'`, `'`), `"`, `\"`) + `"`
		}
		var key string
		if err := json.Unmarshal([]byte(raw), &key); err != nil {
			return step{}, 0, fmt.Errorf("bad quoted key %s", raw)
		}
		return step{key: key}, end + 1, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, errors.New("unclosed [")
	}
	n, err := strconv.Atoi(s[1:end])
	if err != nil || n > 1<<20 || n < -(1<<20) || strings.HasPrefix(s[1:end], "+") {
		return step{}, 0, fmt.Errorf("index %q is not a whole number", s[1:end])
	}
	return step{index: n, isIndex: true}, end + 1, nil
}

// Lookup returns the value at p in doc (as Decode returns it). JSON null
// is returned as nil without an error; a missing key or index is
// ErrNotFound.
func (p Path) Lookup(doc any) (any, error) {
	v := doc
	for i, st := range p.steps {
		next, ok := walk(v, st)
		if !ok {
			at := p.prefix(i + 1)
			return nil, fmt.Errorf("%w at %s (%s)", ErrNotFound, at, kind(v))
		}
		v = next
	}
	return v, nil
}

// Find is Lookup for callers that only ask whether a value is there:
// found is false for a missing value and for JSON null.
func (p Path) Find(doc any) (v any, found bool) {
	v, err := p.Lookup(doc)
	return v, err == nil && v != nil
}

func walk(v any, st step) (any, bool) {
	switch c := v.(type) {
	case map[string]any:
		if st.isIndex {
			return nil, false
		}
		next, ok := c[st.key]
		return next, ok
	case []any:
		i := st.index
		if !st.isIndex {
			// "list.0" reads like "list[0]".
			n, err := strconv.Atoi(st.key)
			if err != nil || n < 0 || strconv.Itoa(n) != st.key {
				return nil, false
			}
			i = n
		}
		if i < 0 {
			i += len(c)
		}
		if i < 0 || i >= len(c) {
			return nil, false
		}
		return c[i], true
	}
	return nil, false
}

// Canonical is the path in canonical form; parsing it gives the same
// steps.
func (p Path) Canonical() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p.steps {
		switch {
		case st.isIndex:
			fmt.Fprintf(&b, "[%d]", st.index)
		case plainKey(st.key):
			b.WriteByte('.')
			b.WriteString(st.key)
		default:
			q, _ := json.Marshal(st.key)
			fmt.Fprintf(&b, "[%s]", q)
		}
	}
	return b.String()
}

func plainKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, `.[]"'\`) && k[0] != '$' && k != "value_json"
}

// prefix renders the first n steps, for messages.
func (p Path) prefix(n int) string {
	var b strings.Builder
	for _, st := range p.steps[:n] {
		switch {
		case st.isIndex:
			fmt.Fprintf(&b, "[%d]", st.index)
		case strings.ContainsAny(st.key, ".[]'\" ") || st.key == "":
			fmt.Fprintf(&b, "[%q]", st.key)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(st.key)
		}
	}
	return b.String()
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "in an object"
	case []any:
		return "in an array"
	case nil:
		return "under null"
	}
	return "under a scalar"
}

// Decode decodes one JSON value; trailing data is an error. Numbers are
// kept as json.Number so no digit is lost before scaling.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode json: data after the value")
	}
	return v, nil
}

// Number converts a JSON number, or text holding one (Home Assistant
// states are text), to a finite float64. null is ErrNull.
func Number(v any) (float64, error) {
	var f float64
	var err error
	switch x := v.(type) {
	case nil:
		return 0, ErrNull
	case json.Number:
		f, err = strconv.ParseFloat(x.String(), 64)
	case float64:
		f = x
	case string:
		s := strings.TrimSpace(x)
		f, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", clip(x))
		}
	case bool:
		return 0, fmt.Errorf("%t is not a number", x)
	default:
		return 0, fmt.Errorf("an %s is not a number", strings.TrimPrefix(kind(v), "in an "))
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%v is not a finite number", clip(fmt.Sprint(v)))
	}
	return f, nil
}

// Time converts RFC 3339 text or a Unix time in seconds (or, above
// 1e11, milliseconds) to a time.
func Time(v any) (time.Time, error) {
	if s, ok := v.(string); ok {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q is not RFC 3339", clip(s))
		}
		return t, nil
	}
	f, err := Number(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("time: %w", err)
	}
	if f <= 0 || f >= 1e14 {
		return time.Time{}, fmt.Errorf("time %v is not a plausible unix time", f)
	}
	if f >= 1e11 {
		return time.UnixMilli(int64(f)), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// Text is how a JSON value reads as text: strings as they are, numbers as
// written, null as "", arrays and objects as compact JSON.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
