package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
)

// Load reads and parses the configuration file at path; see Parse.
func Load(path string, reg *charger.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, reg)
}

// Parse parses and validates a configuration. source names it in messages
// and in Config.Source, usually the file name; relative file paths in the
// configuration (${file:...}, TLS files) are taken from its directory.
// Drivers are looked up in reg, or in charger.Default when reg is nil.
//
// An empty file, or one with only comments, gives Default(). On failure
// the error is an Errors holding every problem found, and the Config is nil.
func Parse(data []byte, source string, reg *charger.Registry) (*Config, error) {
	if reg == nil {
		reg = charger.Default
	}
	baseDir := "."
	if source != "" {
		baseDir = filepath.Dir(source)
	}
	d := newDecoder(source)
	for _, svc := range charger.Services() {
		d.services = append(d.services, svc.Name)
	}
	cfg := Default()
	cfg.Source = source
	if root := d.parseDocument(data); root != nil {
		if root.Kind != yaml.MappingNode {
			d.errorf(root, "", "the top level must be a mapping of the sections mqtt, homeassistant, log and chargers, got %s",
				d.describe(root))
		} else {
			d.expand(root, "", baseDir)
			d.decode(root, reflect.ValueOf(cfg).Elem(), "", 0)
			d.chargers(cfg, reg)
			d.serviceBlocks(cfg)
			d.meters(cfg, meter.Default)
			d.validate(cfg, reg, baseDir)
			d.validateSite(cfg, meter.Default)
			d.validateDiscovery(&cfg.Discovery)
		}
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return cfg, nil
}

// parseDocument parses data into a node tree and returns its top-level
// node, or nil when the document is empty, null or unreadable.
func (d *decoder) parseDocument(data []byte) (root *yaml.Node) {
	defer func() {
		// yaml.v3 has panicked on malformed input before (CVE-2022-28948);
		// a bad file must give an error, never crash the daemon.
		if r := recover(); r != nil {
			d.errorf(nil, "", "cannot parse YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(err, data)
		}
		return nil
	}
	for reported := false; ; {
		var next yaml.Node
		err := dec.Decode(&next)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				d.syntaxError(err, data)
			}
			break
		}
		if !reported && len(next.Content) > 0 && !isNull(next.Content[0]) {
			d.errorf(next.Content[0], "", "only one YAML document is allowed; remove the one after ---")
			reported = true
		}
	}
	root = &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		root = doc.Content[0]
	}
	if isNull(root) {
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// maxScanLines bounds the search for a syntax error's line, which parses
// the file once per line.
const maxScanLines = 1000

// syntaxError records a yaml.v3 parse error. yaml.v3's line is often that
// of the enclosing block, or missing, so the line is found by parsing
// ever shorter prefixes of the file: the error is on the first line from
// which every longer prefix fails too.
func (d *decoder) syntaxError(err error, data []byte) {
	msg, line := err.Error(), 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		line, _ = strconv.Atoi(m[1])
	}
	if lines := bytes.SplitAfter(data, []byte("\n")); len(lines) <= maxScanLines && len(data) <= 1<<18 {
		line = len(lines)
		for line > 1 && !parses(bytes.Join(lines[:line-1], nil)) {
			line--
		}
	}
	d.errorf(&yaml.Node{Line: line}, "", "YAML syntax error: %s", msg)
}

// parses reports whether data is well-formed YAML.
func parses(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
}

// chargers fills in the defaults that depend on each charger's driver and
// decodes its options.
func (d *decoder) chargers(cfg *Config, reg *charger.Registry) {
	for i := range cfg.Chargers {
		c := &cfg.Chargers[i]
		p := fmt.Sprintf("chargers[%d]", i)
		if n := d.nodes[p]; n != nil {
			c.Line = n.Line
		}
		drv, known := reg.Lookup(c.Driver)
		if c.PollInterval == unset {
			c.PollInterval = fallbackPollInterval
			if known && drv.DefaultPollInterval > 0 {
				c.PollInterval = drv.DefaultPollInterval
			}
		}
		if c.Timeout == unset {
			c.Timeout = DefaultTimeout
			if c.PollInterval > 0 {
				c.Timeout = min(DefaultTimeout, c.PollInterval)
			}
		}
		if known {
			d.options(c, drv, p)
		}
	}
}

// options decodes a charger's options block into what its driver's
// NewOptions returns, and lets the options validate themselves.
func (d *decoder) options(c *Charger, drv charger.Driver, path string) {
	c.Options = d.optionsBlock(path, drv.Name, drv.NewOptions)
}

// serviceBlocks decodes each driver service's top-level block (such as
// `ocpp:`) into what the service's NewOptions returns.
func (d *decoder) serviceBlocks(cfg *Config) {
	for _, svc := range charger.Services() {
		if d.nodes[svc.Name] == nil {
			continue
		}
		if cfg.Services == nil {
			cfg.Services = map[string]any{}
		}
		cfg.Services[svc.Name] = d.block(svc.Name, svc.Name, svc.NewOptions)
	}
}

// optionsBlock decodes the `options:` block below path (a charger or a
// meter) into what newOptions returns, and lets the options validate
// themselves.
func (d *decoder) optionsBlock(path, driver string, newOptions func() any) any {
	return d.block(path+".options", driver, newOptions)
}

// block decodes the mapping at path into what newOptions returns.
func (d *decoder) block(path, driver string, newOptions func() any) any {
	n, key := d.nodes[path], d.keys[path]
	if r := resolve(n); r == nil || isNull(r) || r.Kind == yaml.MappingNode && len(r.Content) == 0 {
		n = nil // no options, or an empty block: the driver's defaults
	}
	if newOptions == nil {
		if n != nil {
			d.errorf(key, path, "driver %s takes no options; remove this block", driver)
		}
		return nil
	}
	opts := newOptions()
	if rv := reflect.ValueOf(opts); rv.Kind() != reflect.Pointer || rv.IsNil() {
		d.errorf(key, path, "driver %s is broken: NewOptions returned %T, not a pointer", driver, opts)
		return nil
	}
	if n != nil {
		before := len(d.errs)
		d.decode(n, reflect.ValueOf(opts).Elem(), path, 1)
		if len(d.errs) > before {
			return opts
		}
	}
	if v, ok := opts.(charger.OptionsValidator); ok {
		if err := v.Validate(); err != nil {
			at := key
			if at == nil {
				at = d.nodes[strings.TrimSuffix(path, ".options")]
			}
			if at == nil {
				at = d.nodes[path]
			}
			d.errorf(at, path, "%v", err)
		}
	}
	return opts
}
