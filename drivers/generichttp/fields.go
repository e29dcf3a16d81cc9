package generichttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evbridge/evbridge/drivers/jsonpath"
	"math"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/evbridge/evbridge/bridge/charger"
)

// value is one field read: a number, a bool, a text or an IEC state.
type value struct {
	num    float64
	on     bool
	text   string
	iec    charger.IECState
	status charger.Status
}

// errMissing: the reply does not hold the value (absent, null, empty).
var errMissing = errors.New("no value")

const maxText = 128

// read evaluates f over the decoded replies; a missing optional value is
// (nil, nil).
func (f *field) read(docs []any) (*value, error) {
	v, err := f.eval(docs[f.from])
	switch {
	case errors.Is(err, errMissing) && f.optional:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", charger.ErrBadReply, f.name, err)
	}
	return v, nil
}

func (f *field) eval(doc any) (*value, error) {
	var raw any
	var text string
	switch {
	case f.path != nil:
		v, ok := f.path.Find(doc)
		if !ok {
			return nil, fmt.Errorf("%w at %s", errMissing, f.path.String())
		}
		raw, text = v, textOf(v)
	case f.tmpl != nil:
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, doc); err != nil {
			if strings.Contains(err.Error(), "map has no entry for key") {
				return nil, fmt.Errorf("%w: %v", errMissing, err)
			}
			return nil, err
		}
		text = strings.TrimSpace(b.String())
	default:
		return nil, errors.New("broken field")
	}
	status := ""
	for _, c := range f.cases {
		if matches(c.Match, text) {
			text, status, raw = c.Value, c.Status, nil
			break
		}
	}
	v, known, err := convert(text, raw, f.kind, f.scale)
	if err != nil {
		return nil, err
	}
	if status != "" {
		v.status, known = charger.Status(status), true
	}
	if !known {
		return nil, fmt.Errorf("%w (%q)", errMissing, text)
	}
	return &v, nil
}

// matches is a file-name match where * also spans "/": * is any text, ?
// any one character, everything else itself.
func matches(pattern, text string) bool {
	p, t := []rune(pattern), []rune(text)
	star, back := -1, 0
	for i, j := 0, 0; j < len(t); {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == t[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, back = i, j
			i++
		case star >= 0:
			back++
			i, j = star+1, back
		default:
			return false
		}
		if j == len(t) {
			for i < len(p) && p[i] == '*' {
				i++
			}
			return i == len(p)
		}
	}
	for _, r := range p {
		if r != '*' {
			return false
		}
	}
	return true
}

// convert reads text (or the JSON value raw, when there is no table) as
// kind k. Empty text is no value, except for a text field, where it is
// the empty text (an error code mapped to "" means no error).
func convert(text string, raw any, k kind, scale float64) (value, bool, error) {
	var v value
	if text == "" {
		return v, k == kindText, nil
	}
	switch k {
	case kindNumber:
		n, err := toFloat(raw)
		if raw == nil {
			n, err = strconv.ParseFloat(text, 64)
		}
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return v, false, fmt.Errorf("%q is not a number", truncate(text))
		}
		v.num = scaled(n, scale)
		if math.IsInf(v.num, 0) {
			return v, false, fmt.Errorf("%q scaled is out of range", truncate(text))
		}
	case kindBool:
		switch strings.ToLower(text) {
		case "true", "1":
			v.on = true
		case "false", "0":
		default:
			return v, false, fmt.Errorf("%q is not true or false; map it", truncate(text))
		}
	case kindIEC:
		s := charger.IECState(text)
		if len(text) != 1 || s < charger.IECA || s > charger.IECF {
			return v, false, fmt.Errorf("%q is not an IEC state A..F; map it", truncate(text))
		}
		v.iec = s
	default:
		if len(text) > maxText || !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return v, false, fmt.Errorf("implausible text %q", truncate(text))
		}
		v.text = text
	}
	return v, true, nil
}

// scaled multiplies by scale; a scale like 0.001 divides by 1000 instead,
// so that decimal readings stay exact (1534.25 Wh is 1.53425 kWh).
func scaled(n, scale float64) float64 {
	if scale == 1 {
		return n
	}
	if inv := 1 / scale; math.Abs(inv) > 1 && inv == math.Round(inv) {
		return n / inv
	}
	return n * scale
}

// textOf is how a JSON value reads in a table.
func textOf(v any) string { return jsonpath.Text(v) }

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string:
		return strconv.ParseFloat(strings.TrimSpace(x), 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func truncate(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// fieldFuncs are the functions of field templates.
func fieldFuncs() template.FuncMap {
	return template.FuncMap{
		// get evaluates a JSON path: {{get . "nrg[11]"}}.
		"get": func(doc any, p string) (any, error) {
			jp, err := parsePath(p)
			if err != nil {
				return nil, err
			}
			v, _ := jp.Find(doc)
			return v, nil
		},
		"max": func(list any) (string, error) { return fold(list, math.Max) },
		"min": func(list any) (string, error) { return fold(list, math.Min) },
		"sum": func(list any) (string, error) { return fold(list, func(a, b float64) float64 { return a + b }) },
	}
}

// fold combines a JSON array of numbers; an empty or absent array gives
// "", which reads as no value.
func fold(list any, f func(a, b float64) float64) (string, error) {
	l, ok := list.([]any)
	if !ok && list != nil {
		return "", fmt.Errorf("want an array, got %s", truncate(textOf(list)))
	}
	if len(l) == 0 {
		return "", nil
	}
	acc, err := toFloat(l[0])
	if err != nil {
		return "", err
	}
	for _, e := range l[1:] {
		n, err := toFloat(e)
		if err != nil {
			return "", err
		}
		acc = f(acc, n)
	}
	return strconv.FormatFloat(acc, 'g', -1, 64), nil
}

// commandFuncs are the functions of command templates; {{.Value}} is the
// command's value.
func commandFuncs() template.FuncMap {
	return template.FuncMap{
		"mul": func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x * y }) },
		"div": func(a, b any) (float64, error) { return arith(a, b, func(x, y float64) float64 { return x / y }) },
		// int rounds to a whole number: {{mul .Value 1000 | int}} is mA.
		"int": func(a any) (int64, error) {
			n, err := toFloat(a)
			return int64(math.Round(n)), err
		},
		"json": func(a any) (string, error) {
			b, err := json.Marshal(a)
			return string(b), err
		},
	}
}

func arith(a, b any, f func(x, y float64) float64) (float64, error) {
	x, err := toFloat(a)
	if err != nil {
		return 0, err
	}
	y, err := toFloat(b)
	if err != nil {
		return 0, err
	}
	return f(x, y), nil
}
