// Package generichttp drives any charger with an HTTP/JSON API that a user
// describes in YAML: the requests a poll makes, a JSON path or template for
// each state field with value tables and scale factors, and a templated
// request for each command. It gives such a charger the same entities as
// a built-in driver.
//
// A definition is the driver's options block, decoded strictly like every
// option; Validate checks it completely (requests, paths, templates,
// tables, ranges, that every request is read) before anything runs. The
// definitions in examples/ ship with evbridge and are used by name
// (`builtin: goe`); examples/goe.yaml describes go-e API v2 (reference:
// goecharger/go-eCharger-API-v2 @ b4d7f85325f5fd7243d007f7fd639ac2db16c5da,
// http-en.md and apikeys-en.md, as the goe driver) and is tested against
// the go-e simulator field by field.
//
// One poll is one request per entry of `requests`, less those whose
// min_interval has not passed; a command is one request.
package generichttp

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
)

func init() {
	charger.Register(charger.Driver{
		Name:                "generic_http",
		Title:               "Generic HTTP/JSON charger (YAML definition)",
		DefaultPollInterval: 2 * time.Second,
		DefaultPort:         80,
		NewOptions:          func() any { return &Options{} },
		New: func(s charger.Settings, opts any, log *slog.Logger) (charger.Charger, error) {
			o, _ := opts.(*Options)
			return New(s, o, log)
		},
	})
}

//go:embed examples/*.yaml
var examples embed.FS

// Builtins lists the definitions shipped with evbridge.
func Builtins() []string {
	entries, _ := examples.ReadDir("examples")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// Builtin returns a shipped definition, decoded strictly.
func Builtin(name string) (*Options, error) {
	if !slices.Contains(Builtins(), name) {
		return nil, fmt.Errorf("generic_http: builtin %q: not one of %s", name, strings.Join(Builtins(), ", "))
	}
	b, err := examples.ReadFile("examples/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("generic_http: builtin %q: %w", name, err)
	}
	o, err := decodeStrict(b)
	if err != nil || o.Builtin != "" {
		return nil, fmt.Errorf("generic_http: builtin %q is broken: %v", name, err)
	}
	return o, nil
}

// decodeStrict decodes an options block as the config loader does:
// unknown keys are errors.
func decodeStrict(b []byte) (*Options, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var o Options
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Validate checks the definition without I/O.
func (o *Options) Validate() error {
	_, err := o.program()
	return err
}

func (o *Options) program() (*program, error) {
	if o.Builtin == "" {
		return compile(&o.Definition, nil)
	}
	rest := o.Definition
	rest.Headers = nil
	if !reflect.ValueOf(rest).IsZero() {
		return nil, fmt.Errorf("generic_http: builtin %q: only headers may be added to a built-in definition", o.Builtin)
	}
	b, err := Builtin(o.Builtin)
	if err != nil {
		return nil, err
	}
	return compile(&b.Definition, o.Headers)
}

const (
	defaultTimeout = 5 * time.Second
	maxReplyBytes  = 1 << 20
)

// Driver talks to one charger as its definition says. It is safe for
// concurrent use.
type Driver struct {
	p       *program
	base    string
	timeout time.Duration
	maxCur  float64
	client  *http.Client
	log     *slog.Logger

	mu     sync.Mutex
	cache  []cached // per read
	devMax float64  // max_current at the last poll, 0 if unknown
}

type cached struct {
	doc any
	at  time.Time
}

// New builds a driver for s; it does no I/O. The charger it returns has
// the capabilities the definition has commands for.
func New(s charger.Settings, o *Options, log *slog.Logger) (charger.Charger, error) {
	d, err := newDriver(s, o, log)
	if err != nil {
		return nil, err
	}
	return d.withCapabilities(), nil
}

func newDriver(s charger.Settings, o *Options, log *slog.Logger) (*Driver, error) {
	if o == nil {
		return nil, errors.New("generic_http: the options must describe the charger")
	}
	p, err := o.program()
	if err != nil {
		return nil, err
	}
	host := strings.TrimSpace(s.Address)
	if host == "" {
		return nil, errors.New("generic_http: address is empty")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	u, err := url.Parse(p.scheme + "://" + host)
	if err != nil || u.Host != host || u.Path != "" {
		return nil, fmt.Errorf("generic_http: bad address %q", s.Address)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	tr := &http.Transport{
		Proxy:               nil, // a LAN device: never through a proxy
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Driver{p: p, base: p.scheme + "://" + host, timeout: timeout, maxCur: s.MaxCurrent,
		client: &http.Client{Transport: tr}, cache: make([]cached, len(p.reads)),
		log: log.With("driver", "generic_http", "charger", s.Name)}, nil
}

// Poll sends the definition's reads (those whose min_interval passed) and
// maps the replies onto the state.
func (d *Driver) Poll(ctx context.Context) (charger.State, error) {
	docs := make([]any, len(d.p.reads))
	for i, r := range d.p.reads {
		d.mu.Lock()
		c := d.cache[i]
		d.mu.Unlock()
		if r.req.MinInterval > 0 && c.doc != nil && time.Since(c.at) < r.req.MinInterval {
			docs[i] = c.doc
			continue
		}
		doc, err := d.fetch(ctx, r)
		if err != nil {
			return charger.State{}, fmt.Errorf("generic_http: read %s: %w", r.name, err)
		}
		docs[i] = doc
		d.mu.Lock()
		d.cache[i] = cached{doc: doc, at: time.Now()}
		d.mu.Unlock()
	}
	st, devMax, err := d.p.state(docs)
	if err != nil {
		return charger.State{}, fmt.Errorf("generic_http: %w", err)
	}
	d.mu.Lock()
	d.devMax = devMax
	d.mu.Unlock()
	return st, nil
}

func (d *Driver) fetch(ctx context.Context, r *read) (any, error) {
	hdr := d.p.headers.Clone()
	for k, v := range r.hdr {
		hdr[k] = v
	}
	code, body, err := d.do(ctx, r.req.Method, r.req.Path, hdr, r.req.Body)
	if err != nil {
		return nil, err
	}
	if !statusOK(r.req.OKStatus, code) {
		return nil, fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(body))
	}
	return decodeJSON(body)
}

// do sends one request within the driver's timeout.
func (d *Driver) do(ctx context.Context, method, path string, hdr http.Header, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if method == "" {
		method = http.MethodGet
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = hdr
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read reply: %w", err)
	}
	if len(b) > maxReplyBytes {
		return 0, nil, fmt.Errorf("%w: reply larger than %d bytes", charger.ErrBadReply, maxReplyBytes)
	}
	return resp.StatusCode, b, nil
}

// Close releases idle connections.
func (d *Driver) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

// RefreshInterval is keep_alive.interval, or 0 without a keep-alive.
func (d *Driver) RefreshInterval() time.Duration { return d.p.keepEvery }

// Refresh sends the keep-alive request.
func (d *Driver) Refresh(ctx context.Context) error {
	if d.p.keepAlive == nil {
		return nil
	}
	if err := d.run(ctx, d.p.keepAlive, nil); err != nil {
		return fmt.Errorf("generic_http: keep alive: %w", err)
	}
	return nil
}

func statusOK(list []int, code int) bool {
	if len(list) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(list, code)
}
