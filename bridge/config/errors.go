package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a configuration file.
type Error struct {
	// File is the file name, or "" when the input had none.
	File string
	// Line and Column locate the problem, 1-based; 0 when unknown.
	Line, Column int
	// Path is the key path, such as chargers[1].max_current; "" for the
	// file as a whole.
	Path string
	// Msg says what is wrong and what was expected.
	Msg string
}

// Error formats e as file:line:col: path: message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.File == "" {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration file, sorted by line.
// Parse and Load return it as their error.
type Errors []*Error

// Error gives one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders es by position; problems without a line come last.
func (es Errors) sort() {
	key := func(e *Error) int {
		if e.Line == 0 {
			return 1 << 30
		}
		return e.Line
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if key(a) != key(b) {
			return key(a) < key(b)
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Path < b.Path
	})
}

// unknownKey is the message for key, which is not one of valid.
func unknownKey(key string, valid []string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if s := closest(key, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	if len(valid) == 0 {
		return msg + " (no keys are allowed here)"
	}
	return msg + " (valid keys: " + strings.Join(valid, ", ") + ")"
}

// closest returns the candidate most like s, or "" when none is close
// enough to be a plausible typo.
func closest(s string, candidates []string) string {
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(x))
	}
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if n, m := norm(s), norm(c); n == m || len(n) >= 3 && len(m) >= 3 && (strings.HasPrefix(n, m) || strings.HasPrefix(m, n)) {
			return c
		}
		if d := levenshtein(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist <= max(1, min(3, len([]rune(s))/3)) {
		return best
	}
	return ""
}

// levenshtein is the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// expected describes what a value of type t looks like in YAML.
func expected(t reflect.Type) string {
	if t == durationType {
		return "a duration like 2s or 1m30s"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// describe names what n holds for a message, hiding expanded values, which
// may be secrets.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if orig, ok := d.expanded[n]; ok {
		return "the value of " + truncate(orig) + " (not shown)"
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(truncate(n.Value))
	}
	return truncate(n.Value)
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
