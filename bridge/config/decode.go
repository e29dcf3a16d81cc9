package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits that keep a hostile or broken file from exhausting the decoder:
// aliases let a few lines refer to one mapping many times over.
const (
	maxNodes = 100_000
	maxDepth = 100
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// defaulter is a type that fills in its defaults before it is decoded into,
// so keys the file leaves out keep them.
type defaulter interface{ setDefaults() }

// extraKeys are keys a struct's mapping may hold beyond its fields. The
// decoder only records their nodes in decoder.nodes; the caller decodes
// them.
var extraKeys = map[reflect.Type][]string{
	reflect.TypeFor[Charger](): {"options"},
	reflect.TypeFor[Meter]():   {"options"},
}

// decoder decodes a yaml.v3 node tree into Go values strictly, by
// reflection over yaml struct tags, collecting every error with its
// position and key path instead of stopping at the first.
type decoder struct {
	file string
	errs Errors
	// nodes and keys hold the value and key node of every key path seen,
	// for the positions of later semantic errors.
	nodes, keys map[string]*yaml.Node
	// bad holds the paths errors were reported at; semantic checks skip
	// them and their children, whose values are not what the file meant.
	bad map[string]bool
	// expanded holds the original text of scalars changed by ${...}
	// expansion, so messages show that instead of a possibly secret value.
	expanded map[*yaml.Node]string
	budget   int
	// services are the top-level keys driver services add (e.g. ocpp).
	services []string
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:     file,
		nodes:    map[string]*yaml.Node{},
		keys:     map[string]*yaml.Node{},
		bad:      map[string]bool{},
		expanded: map[*yaml.Node]string{},
		budget:   maxNodes,
	}
}

// errorf records an error at n, which may be nil when there is no position.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
	d.bad[path] = true
}

// enter resolves an alias and charges the node to the budget; false means
// stop descending.
func (d *decoder) enter(n *yaml.Node, path string, depth int) (*yaml.Node, bool) {
	at := n
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.budget--
	switch {
	case n == nil:
		return nil, false
	case d.budget == -1:
		d.errorf(at, path, "the document is too large or expands too many aliases")
		return nil, false
	case d.budget < 0:
		return nil, false
	case depth > maxDepth:
		d.errorf(at, path, "nested too deeply (or an alias refers to itself)")
		return nil, false
	}
	return n, true
}

// decode decodes n into v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	n, ok := d.enter(n, path, depth)
	if !ok {
		return
	}
	if isNull(n) {
		// As in yaml.v3, null clears references and keeps other values,
		// so `key:` with nothing after it leaves the default.
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return
	}
	switch t := v.Type(); {
	case isLeaf(t):
		d.leaf(n, v, path)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path, depth+1)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, path, depth)
	case t.Kind() == reflect.Slice:
		d.sequence(n, v, path, depth)
	case t.Kind() == reflect.Map:
		d.mapping(n, v, path, depth)
	}
}

// isLeaf reports whether values of t are decoded by yaml.v3 as a whole.
func isLeaf(t reflect.Type) bool {
	if t == durationType || t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) {
		return true
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Struct, reflect.Slice, reflect.Map:
		return false
	}
	return true
}

// leaf decodes a scalar value (or a custom type) with yaml.v3.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	plain := t.Kind() != reflect.Interface && t.Kind() != reflect.Array && !isCustom(t)
	if plain && n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", expected(t), d.describe(n))
		return
	}
	err := n.Decode(v.Addr().Interface())
	if err == nil && isInteger(t) && n.ShortTag() == "!!float" {
		// yaml.v3 truncates 1.5 to 1; a fraction here is a mistake.
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) {
			err = &yaml.TypeError{}
		}
	}
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if !plain || !errors.As(err, &te) {
		d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	msg := fmt.Sprintf("expected %s, got %s", expected(t), d.describe(n))
	if _, hidden := d.expanded[n]; t == durationType && !hidden && n.ShortTag() != "!!str" {
		msg += " (a duration needs a unit, e.g. " + n.Value + "s)"
	}
	d.errorf(n, path, "%s", msg)
}

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return t != durationType
	}
	return false
}

func isCustom(t reflect.Type) bool {
	return t != durationType && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType))
}

// structure decodes a mapping into the struct v, field by yaml tag.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields, names, inlineMap := fieldsOf(v.Type())
	extra := extraKeys[v.Type()]
	if v.Type() == reflect.TypeFor[Config]() {
		extra = append(slices.Clone(extra), d.services...)
	}
	names = append(names, extra...)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping with keys %s, got %s", strings.Join(names, ", "), d.describe(n))
		return
	}
	d.pairs(n, path, depth, func(key string, k, val *yaml.Node) {
		p := join(path, key)
		if slices.Contains(extra, key) {
			return
		}
		if idx, ok := fields[key]; ok {
			d.decode(val, v.FieldByIndex(idx), p, depth+1)
			return
		}
		if inlineMap != nil {
			d.mapEntry(k, val, v.FieldByIndex(inlineMap), p, depth)
			return
		}
		d.errorf(k, p, "%s", unknownKey(key, names))
	}, func(m *yaml.Node) { d.structure(m, v, path, depth+1) })
}

// sequence decodes a list into the slice v, replacing its elements.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", d.describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.nodes[p] = item
		e := reflect.New(v.Type().Elem())
		if df, ok := e.Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.decode(item, e.Elem(), p, depth+1)
		out = reflect.Append(out, e.Elem())
	}
	v.Set(out)
}

// mapping decodes a mapping into the Go map v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", d.describe(n))
		return
	}
	d.pairs(n, path, depth, func(key string, k, val *yaml.Node) {
		d.mapEntry(k, val, v, join(path, key), depth)
	}, func(m *yaml.Node) { d.mapping(m, v, path, depth+1) })
}

func (d *decoder) mapEntry(k, val *yaml.Node, m reflect.Value, path string, depth int) {
	kv := reflect.New(m.Type().Key())
	if err := k.Decode(kv.Interface()); err != nil {
		d.errorf(k, path, "expected a key of type %s", m.Type().Key())
		return
	}
	ev := reflect.New(m.Type().Elem()).Elem()
	d.decode(val, ev, path, depth+1)
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	m.SetMapIndex(kv.Elem(), ev)
}

// pairs calls each for every key of the mapping n, after calling merge for
// every mapping merged in with <<, so that keys written out win as in
// yaml.v3. It reports keys that are not scalars and duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path string, depth int, each func(key string, k, val *yaml.Node), merge func(*yaml.Node)) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], path, depth, merge)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names, got %s", d.describe(k))
			continue
		}
		p := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, p, "key %q is already set on line %d", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		d.nodes[p], d.keys[p] = val, k
		each(k.Value, k, val)
	}
}

// merge applies a << value: a mapping or a list of mappings.
func (d *decoder) merge(val *yaml.Node, path string, depth int, merge func(*yaml.Node)) {
	m, ok := d.enter(val, path, depth+1)
	if !ok {
		return
	}
	items := []*yaml.Node{m}
	if m.Kind == yaml.SequenceNode {
		items = m.Content
	}
	for _, item := range items {
		it, ok := d.enter(item, path, depth+1)
		if !ok {
			continue
		}
		if it.Kind != yaml.MappingNode {
			d.errorf(item, path, "<< needs a mapping or a list of mappings, got %s", d.describe(it))
			continue
		}
		merge(it)
	}
}

// fieldsOf maps the yaml keys of struct t to field indexes, in field
// order, following ",inline" structs; inlineMap is the index of an
// ",inline" map field, which takes the remaining keys.
func fieldsOf(t reflect.Type) (fields map[string][]int, names []string, inlineMap []int) {
	fields = map[string][]int{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			inline := slices.Contains(strings.Split(opts, ","), "inline")
			if name == "-" || (!f.IsExported() && !(f.Anonymous && inline)) {
				continue
			}
			idx := append(slices.Clone(index), i)
			if inline {
				switch f.Type.Kind() {
				case reflect.Struct:
					walk(f.Type, idx)
				case reflect.Map:
					inlineMap = idx
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := fields[name]; !dup {
				fields[name] = idx
				names = append(names, name)
			}
		}
	}
	walk(t, nil)
	return fields, names, inlineMap
}

// resolve returns the node an alias refers to, or n itself.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
