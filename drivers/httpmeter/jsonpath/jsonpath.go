// Package jsonpath finds numbers and times in JSON documents by a small
// dotted path, for the meter drivers that read JSON (http_json and
// mqtt_topic).
//
// Syntax: keys separated by dots, [n] for array element n (from 0), and
// ['key'] or ["key"] for keys holding dots, spaces or brackets:
// "emeters[0].power", "data.0.soc", "attributes['grid power']". A
// leading "value_json" is dropped, so a Home Assistant template path
// such as value_json.power works as written. The empty path is the
// whole document.
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
)

// Errors a lookup or conversion can wrap.
var (
	// ErrNotFound: the path leads nowhere in the document.
	ErrNotFound = errors.New("no such value")
	// ErrNull: the value is JSON null.
	ErrNull = errors.New("value is null")
)

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

// String returns the path as written.
func (p Path) String() string { return p.src }

// Parse parses a path.
func Parse(s string) (Path, error) {
	p := Path{src: s}
	i := 0
	expectKey := true // at the start or after a dot
	for i < len(s) {
		switch c := s[i]; {
		case c == '.':
			if expectKey {
				return Path{}, fmt.Errorf("path %q: empty key at %d", s, i)
			}
			expectKey = true
			i++
		case c == '[':
			st, n, err := bracket(s[i:])
			if err != nil {
				return Path{}, fmt.Errorf("path %q at %d: %w", s, i, err)
			}
			p.steps = append(p.steps, st)
			i += n
			expectKey = false
		default:
			if !expectKey {
				return Path{}, fmt.Errorf("path %q: want . or [ at %d", s, i)
			}
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' {
				end++
			}
			p.steps = append(p.steps, step{key: s[i:end]})
			i = end
			expectKey = false
		}
	}
	if expectKey && len(s) > 0 {
		return Path{}, fmt.Errorf("path %q ends with a dot", s)
	}
	if len(p.steps) > 0 && !p.steps[0].isIndex && p.steps[0].key == "value_json" {
		p.steps = p.steps[1:]
	}
	return p, nil
}

// bracket parses [n], ['key'] or ["key"] at the start of s and returns
// the step and the bytes it used.
func bracket(s string) (step, int, error) {
	end := strings.IndexByte(s, ']')
	if len(s) > 2 && (s[1] == '\'' || s[1] == '"') {
		q := s[1]
		close := strings.IndexByte(s[2:], q)
		if close < 0 || len(s) < close+4 || s[close+3] != ']' {
			return step{}, 0, errors.New("unterminated quoted key")
		}
		return step{key: s[2 : close+2]}, close + 4, nil
	}
	if end < 0 {
		return step{}, 0, errors.New("missing ]")
	}
	n, err := strconv.Atoi(s[1:end])
	if err != nil || n < 0 || strings.HasPrefix(s[1:end], "+") {
		return step{}, 0, fmt.Errorf("index %q is not a number from 0", s[1:end])
	}
	return step{index: n, isIndex: true}, end + 1, nil
}

// Lookup returns the value at p in doc (as Decode returns it).
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

func walk(v any, st step) (any, bool) {
	switch c := v.(type) {
	case map[string]any:
		if st.isIndex {
			return nil, false
		}
		next, ok := c[st.key]
		return next, ok
	case []any:
		idx := st.index
		if !st.isIndex {
			n, err := strconv.Atoi(st.key)
			if err != nil || n < 0 {
				return nil, false
			}
			idx = n
		}
		if idx >= len(c) {
			return nil, false
		}
		return c[idx], true
	}
	return nil, false
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

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
