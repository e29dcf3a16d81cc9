package generichttp

import (
	"errors"
	"fmt"
	"github.com/evbridge/evbridge/drivers/jsonpath"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// kind is how a field's text reads.
type kind int

const (
	kindNumber kind = iota
	kindBool
	kindText
	kindIEC
)

// program is a checked definition, ready to run.
type program struct {
	brand, model string
	scheme       string
	headers      http.Header
	reads        []*read
	fields       fields
	rng          Range
	setCurrent   *command
	enable       *command
	setPhases    *command
	keepAlive    *command
	keepEvery    time.Duration
}

// read is one of the poll's requests.
type read struct {
	name string
	req  Request
	hdr  http.Header
}

// field is one compiled state field.
type field struct {
	name     string // e.g. "state.power", for messages
	from     int    // index into program.reads
	path     *jsonpath.Path
	tmpl     *template.Template
	scale    float64
	cases    []Case
	optional bool
	kind     kind
}

type fields struct {
	status, enabled, currentLimit, maxCurrent, power, phases *field
	sessionEnergy, energyTotal, errorCode, errorText         *field
	rssi, temperature, serial, model, firmware               *field
	currents, voltages                                       []*field
}

// command is one compiled write.
type command struct {
	name    string
	method  string
	path    *template.Template
	body    *template.Template
	headers map[string]*template.Template
	ok      []int
	check   *jsonpath.Path
	equals  string
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// compile checks a definition and builds its program; every problem is
// reported, each naming the key it is about.
func compile(def *Definition, extra map[string]string) (*program, error) {
	c := &compiler{}
	p := &program{brand: def.Brand, model: def.Model, scheme: def.Scheme, headers: http.Header{}}
	switch def.Scheme {
	case "":
		p.scheme = "http"
	case "http", "https":
	default:
		c.errf("scheme", "%q: want http or https", def.Scheme)
	}
	c.headers("headers", def.Headers, p.headers)
	c.headers("headers", extra, p.headers)
	names := make([]string, 0, len(def.Requests))
	for n := range def.Requests {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		c.errf("requests", "at least one request is needed")
	}
	for _, n := range names {
		key := "requests." + n
		if !nameRE.MatchString(n) {
			c.errf(key, "request names are lowercase letters, digits and _")
		}
		r := def.Requests[n]
		if r == nil {
			c.errf(key, "empty request")
			continue
		}
		rd := &read{name: n, req: *r, hdr: http.Header{}}
		c.request(key, r, false)
		c.headers(key+".headers", r.Headers, rd.hdr)
		p.reads = append(p.reads, rd)
	}
	c.reads = p.reads
	c.used = make([]bool, len(p.reads))
	p.fields = c.fields(&def.State)
	for i, u := range c.used {
		if !u && len(p.reads) > 0 {
			c.errf("requests."+p.reads[i].name, "no state field reads this request")
		}
	}
	p.setCurrent = c.command("commands.set_current", def.Commands.SetCurrent)
	p.enable = c.command("commands.enable", def.Commands.Enable)
	p.setPhases = c.command("commands.set_phases", def.Commands.SetPhases)
	switch r := def.CurrentRange; {
	case r == nil && p.setCurrent != nil:
		c.errf("current_range", "needed with commands.set_current")
	case r != nil:
		if !(r.Min >= 0 && r.Max > r.Min && r.Max <= 1000 && r.Step > 0 && r.Step <= r.Max-r.Min) {
			c.errf("current_range", "want 0 <= min < max <= 1000 and 0 < step <= max-min, got %v..%v step %v",
				r.Min, r.Max, r.Step)
		}
		p.rng = *r
	}
	if k := def.KeepAlive; k != nil {
		if k.Interval < time.Second {
			c.errf("keep_alive.interval", "%v: want at least 1s", k.Interval)
		}
		p.keepEvery = k.Interval
		p.keepAlive = c.command("keep_alive", &Command{Request: k.Request})
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return p, nil
}

type compiler struct {
	errs  []error
	reads []*read
	used  []bool
}

func (c *compiler) errf(key, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("generic_http: %s: %s", key, fmt.Sprintf(format, args...)))
}

func (c *compiler) headers(key string, in map[string]string, out http.Header) {
	for k, v := range in {
		if !headerRE.MatchString(k) {
			c.errf(key, "%q is not a header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			c.errf(key, "header %s: a value is one line", k)
		}
		out.Set(k, v)
	}
}

// request checks what reads and commands share; templated paths are
// checked once rendered.
func (c *compiler) request(key string, r *Request, templated bool) {
	switch r.Method {
	case "", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		c.errf(key+".method", "%q: want GET, POST, PUT or PATCH", r.Method)
	}
	bad := "\r\n\x00"
	if !templated {
		bad += " "
	}
	if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, bad) {
		c.errf(key+".path", "%q: want a path starting with / and no spaces", r.Path)
	} else if _, err := url.ParseRequestURI(r.Path); err != nil && !templated {
		c.errf(key+".path", "%q: %v", r.Path, err)
	}
	for _, s := range r.OKStatus {
		if s < 100 || s > 599 {
			c.errf(key+".ok_status", "%d is not an HTTP status", s)
		}
	}
	if r.MinInterval < 0 || templated && r.MinInterval != 0 {
		c.errf(key+".min_interval", "%v: only reads take a non-negative min_interval", r.MinInterval)
	}
}

func (c *compiler) command(key string, cmd *Command) *command {
	if cmd == nil {
		return nil
	}
	c.request(key, &cmd.Request, true)
	out := &command{name: key, method: cmd.Method, ok: cmd.OKStatus, headers: map[string]*template.Template{}}
	if out.method == "" {
		out.method = http.MethodGet
	}
	out.path = c.template(key+".path", cmd.Path, commandFuncs())
	out.body = c.template(key+".body", cmd.Body, commandFuncs())
	hdr := http.Header{}
	c.headers(key+".headers", cmd.Headers, hdr)
	for k := range hdr {
		out.headers[k] = c.template(key+".headers."+k, hdr.Get(k), commandFuncs())
	}
	if ch := cmd.Check; ch != nil {
		out.check, out.equals = c.path(key+".check.path", ch.Path), ch.Equals
	}
	return out
}

func (c *compiler) template(key, text string, funcs template.FuncMap) *template.Template {
	t, err := template.New(key).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "template: "), key+":")
		c.errf(key, "line %s", msg)
		return nil
	}
	return t
}

// parsePath is jsonpath.Parse for a definition: a path must name a value
// inside the reply, not the whole of it.
func parsePath(s string) (jsonpath.Path, error) {
	p, err := jsonpath.Parse(s)
	if err == nil && p.Empty() {
		err = fmt.Errorf("path %q names the whole reply, not a value in it", s)
	}
	return p, err
}

func (c *compiler) path(key, s string) *jsonpath.Path {
	p, err := parsePath(s)
	if err != nil {
		c.errf(key, "%v", err) // the error names the path
		return nil
	}
	return &p
}

func (c *compiler) fields(s *StateFields) fields {
	var f fields
	if s.Status == nil {
		c.errf("state.status", "required: where the IEC state is")
	}
	f.status = c.field("state.status", s.Status, kindIEC)
	f.enabled = c.field("state.enabled", s.Enabled, kindBool)
	f.currentLimit = c.field("state.current_limit", s.CurrentLimit, kindNumber)
	f.maxCurrent = c.field("state.max_current", s.MaxCurrent, kindNumber)
	f.power = c.field("state.power", s.Power, kindNumber)
	f.phases = c.field("state.phases", s.Phases, kindNumber)
	f.sessionEnergy = c.field("state.session_energy", s.SessionEnergy, kindNumber)
	f.energyTotal = c.field("state.energy_total", s.EnergyTotal, kindNumber)
	f.errorCode = c.field("state.error_code", s.ErrorCode, kindText)
	f.errorText = c.field("state.error_text", s.ErrorText, kindText)
	f.rssi = c.field("state.rssi", s.RSSI, kindNumber)
	f.temperature = c.field("state.temperature", s.Temperature, kindNumber)
	f.serial = c.field("state.serial", s.Serial, kindText)
	f.model = c.field("state.model", s.ModelName, kindText)
	f.firmware = c.field("state.firmware", s.Firmware, kindText)
	for name, list := range map[string][]*Field{"currents": s.Currents, "voltages": s.Voltages} {
		if len(list) > 3 {
			c.errf("state."+name, "%d entries: one per phase, at most 3", len(list))
		}
		var out []*field
		for i, x := range list {
			out = append(out, c.field(fmt.Sprintf("state.%s[%d]", name, i), x, kindNumber))
		}
		if name == "currents" {
			f.currents = out
		} else {
			f.voltages = out
		}
	}
	return f
}

func (c *compiler) field(key string, x *Field, k kind) *field {
	if x == nil {
		return nil
	}
	f := &field{name: key, kind: k, scale: 1, cases: x.Map, optional: x.Optional}
	switch {
	case (x.Path == "") == (x.Template == ""):
		c.errf(key, "give either path or template")
	case x.Path != "":
		f.path = c.path(key+".path", x.Path)
	default:
		f.tmpl = c.template(key+".template", x.Template, fieldFuncs())
	}
	switch {
	case x.From == "" && len(c.reads) == 1:
		c.used[0] = true
	case x.From == "" && len(c.reads) > 1:
		c.errf(key+".from", "needed when there are several requests")
	case x.From == "":
		// no request at all: reported once, under requests
	default:
		f.from = slices.IndexFunc(c.reads, func(r *read) bool { return r.name == x.From })
		if f.from < 0 {
			c.errf(key+".from", "no request is called %q", x.From)
			f.from = 0
		} else {
			c.used[f.from] = true
		}
	}
	if x.Scale != nil {
		if f.scale = *x.Scale; k != kindNumber || f.scale == 0 || math.IsNaN(f.scale) || math.IsInf(f.scale, 0) {
			c.errf(key+".scale", "%v: only numbers take a finite, non-zero scale", *x.Scale)
		}
	}
	if k == kindIEC && x.Optional {
		c.errf(key+".optional", "the status cannot be optional")
	}
	for i, cs := range x.Map {
		ck := fmt.Sprintf("%s.map[%d]", key, i)
		if cs.Match == "" {
			c.errf(ck+".match", "empty: give the text to match, or * for any")
		}
		if cs.Status != "" && (k != kindIEC || !slices.Contains(charger.Statuses, charger.Status(cs.Status))) {
			c.errf(ck+".status", "%q: only status cases take a status, one of %v", cs.Status, charger.Statuses)
		}
		if _, _, err := convert(cs.Value, nil, k, 1); err != nil && !(cs.Value == "" && (k != kindIEC || cs.Status != "")) {
			c.errf(ck+".value", "%v", err)
		}
	}
	return f
}
