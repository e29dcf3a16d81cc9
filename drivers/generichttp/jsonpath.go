package generichttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonPath is a compiled path into a JSON document: a small subset of
// JSONPath with no wildcards or filters, so every path names one value.
//
//	car                 key "car" of the top object
//	$.data.power        leading "$" or "$." is allowed
//	nrg[11]             element 11 of an array; nrg[-1] is the last;
//	                    nrg.11 is nrg[11]
//	meter["E total"]    a key with any characters, quoted with " or '
type jsonPath struct {
	steps []step
	src   string
}

// step is one key or one index.
type step struct {
	key   string
	index int
	isIdx bool
}

// maxPathLen bounds what a definition may write; no real path comes close.
const maxPathLen = 256

// parsePath compiles a path; the error says where it went wrong.
func parsePath(s string) (jsonPath, error) {
	p := jsonPath{src: s}
	if s == "" {
		return p, errors.New("empty path")
	}
	if len(s) > maxPathLen {
		return p, fmt.Errorf("path longer than %d bytes", maxPathLen)
	}
	if !utf8.ValidString(s) {
		return p, errors.New("path is not valid UTF-8")
	}
	i := 0
	if s[0] == '$' {
		i = 1
		if i < len(s) && s[i] == '.' {
			i++
		}
	}
	if i == len(s) {
		return p, errors.New("path names no value")
	}
	for i < len(s) {
		if s[i] == '[' {
			st, n, err := bracket(s[i:])
			if err != nil {
				return p, fmt.Errorf("at byte %d: %w", i, err)
			}
			p.steps = append(p.steps, st)
			i += n
			continue
		}
		switch {
		case s[i] == '.' && len(p.steps) == 0:
			return p, fmt.Errorf("at byte %d: a path cannot start with '.'", i)
		case s[i] == '.':
			i++
		case len(p.steps) > 0:
			return p, fmt.Errorf("at byte %d: want '.' or '[' between steps", i)
		}
		j := i
		for j < len(s) && s[j] != '.' && s[j] != '[' {
			if s[j] == ']' || s[j] == '"' || s[j] == '\'' {
				return p, fmt.Errorf("at byte %d: %q belongs in brackets", j, s[j])
			}
			j++
		}
		if j == i {
			return p, fmt.Errorf("at byte %d: empty key", i)
		}
		p.steps = append(p.steps, step{key: s[i:j]})
		i = j
	}
	return p, nil
}

// bracket reads "[12]", "[-1]", `["key"]` or "['key']" at the start of s.
func bracket(s string) (step, int, error) {
	end := -1
	if len(s) > 1 && (s[1] == '"' || s[1] == '\'') {
		q := s[1]
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
	end = strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, errors.New("unclosed [")
	}
	n, err := strconv.Atoi(s[1:end])
	if err != nil || n > 1<<20 || n < -(1<<20) {
		return step{}, 0, fmt.Errorf("index %q is not a whole number", s[1:end])
	}
	return step{index: n, isIdx: true}, end + 1, nil
}

// String is the path in canonical form; parsing it gives the same steps.
func (p jsonPath) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p.steps {
		switch {
		case st.isIdx:
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
	return k != "" && !strings.ContainsAny(k, `.[]"'\`) && k[0] != '$'
}

// eval finds the value in a document decoded with UseNumber. found is
// false where a key or index is missing or the value is JSON null.
func (p jsonPath) eval(doc any) (v any, found bool) {
	v = doc
	for _, st := range p.steps {
		switch c := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, false
			}
			if v, found = c[st.key]; !found {
				return nil, false
			}
		case []any:
			i := st.index
			if !st.isIdx {
				// "list.0" reads like "list[0]", as in the http_json
				// meter's paths.
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
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}
