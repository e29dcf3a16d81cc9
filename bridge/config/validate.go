package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Ranges of the charger settings.
const (
	MinCurrent      = 6.0  // A, the IEC 61851 minimum
	MaxCurrentLimit = 80.0 // A, the most IEC 61851-1 PWM signalling offers
	MinPollInterval = 200 * time.Millisecond
	MaxPollInterval = 10 * time.Minute
	MinTimeout      = 100 * time.Millisecond
	MaxKeepAlive    = 65535 * time.Second // the MQTT field is 16 bits
)

var (
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
	hostRE       = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)
	brokerScheme = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}
	tlsScheme    = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "wss": true}
)

// invalid records a semantic error at the value of path, or at its nearest
// ancestor when the file does not set it.
func (d *decoder) invalid(path, format string, args ...any) {
	for p := path; p != ""; p = parent(p) {
		if d.bad[p] {
			return
		}
	}
	d.errorf(d.at(path), path, format, args...)
}

// at is the node to report path at: the key of a mapping or list value
// (its own node starts on the next line), else the value.
func (d *decoder) at(path string) *yaml.Node {
	for p := path; p != ""; p = parent(p) {
		if n := d.nodes[p]; n != nil {
			if r := resolve(n); r != nil && r.Kind != yaml.ScalarNode && d.keys[p] != nil {
				return d.keys[p]
			}
			return n
		}
	}
	return nil
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// validate checks what types alone cannot: required settings, ranges,
// names, URLs and files.
func (d *decoder) validate(c *Config, reg *charger.Registry, baseDir string) {
	d.validateMQTT(&c.MQTT, baseDir)
	d.topic("homeassistant.prefix", c.HomeAssistant.Prefix)
	d.topic("homeassistant.status_topic", c.HomeAssistant.StatusTopic)
	c.Log.Level = d.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	c.Log.Format = d.oneOf("log.format", c.Log.Format, "text", "json")
	if c.HTTP.Listen != "" {
		if err := checkListen(c.HTTP.Listen); err != nil {
			d.invalid("http.listen", "%v", err)
		}
	}
	if (c.HTTP.Username == "") != (c.HTTP.Password == "") {
		d.invalid("http.username", "username and password go together: set both or neither")
	}
	seen := map[string]int{}
	for i := range c.Chargers {
		p := fmt.Sprintf("chargers[%d]", i)
		d.validateCharger(&c.Chargers[i], p, reg)
		if name := c.Chargers[i].Name; name != "" {
			if j, dup := seen[name]; dup {
				d.invalid(p+".name", "name %q is already used by chargers[%d] on line %d; names must be unique",
					name, j, c.Chargers[j].Line)
			} else {
				seen[name] = i
			}
		}
	}
}

func (d *decoder) validateMQTT(m *MQTT, baseDir string) {
	scheme := d.broker(m.Broker)
	if err := checkListen(m.Embedded.Listen); err != nil {
		d.invalid("mqtt.embedded.listen", "%v", err)
	}
	if m.Password != "" && m.Username == "" {
		d.invalid("mqtt.password", "password is set but username is empty; MQTT sends a password only with a user name")
	}
	if m.ClientID == "" {
		d.invalid("mqtt.client_id", "must not be empty")
	}
	d.topic("mqtt.base_topic", m.BaseTopic)
	switch ka := m.KeepAlive; {
	case ka < time.Second || ka > MaxKeepAlive:
		d.invalid("mqtt.keep_alive", "must be between 1s and %s, got %s", MaxKeepAlive, ka)
	case ka%time.Second != 0:
		d.invalid("mqtt.keep_alive", "must be whole seconds, got %s", ka)
	}

	t := &m.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			d.invalid("mqtt.tls.key_file", "key_file is set without cert_file; set both for a client certificate, or neither")
		} else {
			d.invalid("mqtt.tls.cert_file", "cert_file is set without key_file; set both for a client certificate, or neither")
		}
	}
	for _, f := range []struct {
		key  string
		path *string
	}{{"ca_file", &t.CAFile}, {"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}} {
		if *f.path == "" {
			continue
		}
		if !filepath.IsAbs(*f.path) {
			*f.path = filepath.Join(baseDir, *f.path)
		}
		if st, err := os.Stat(*f.path); err != nil {
			d.invalid("mqtt.tls."+f.key, "cannot use %s: %v", f.key, err)
		} else if !st.Mode().IsRegular() {
			d.invalid("mqtt.tls."+f.key, "%s is not a regular file", *f.path)
		}
	}
	if *t != (TLS{}) {
		switch {
		case m.Broker == "":
			d.invalid("mqtt.tls", "tls applies to an external broker, but broker is empty (the embedded broker has no TLS)")
		case scheme != "" && !tlsScheme[scheme]:
			d.invalid("mqtt.tls", "tls is set but the broker URL is not encrypted; use ssl://, mqtts:// or wss://")
		}
	}
}

// broker checks the broker URL and returns its scheme, "" if unusable.
func (d *decoder) broker(b string) string {
	const path = "mqtt.broker"
	if b == "" {
		return ""
	}
	if !strings.Contains(b, "://") {
		d.invalid(path, "must be a URL such as tcp://192.0.2.10:1883 (or empty for the embedded broker), got %q", b)
		return ""
	}
	u, err := url.Parse(b)
	if err != nil {
		d.invalid(path, "not a valid URL: %v", err)
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case !slices.Contains(brokerScheme, scheme):
		d.invalid(path, "unsupported scheme %q; use one of %s", u.Scheme, strings.Join(brokerScheme, "://, ")+"://")
	case u.User != nil:
		d.invalid(path, "must not hold credentials; set mqtt.username and mqtt.password instead")
	case u.Hostname() == "":
		d.invalid(path, "has no host")
	case u.Port() == "":
		d.invalid(path, "needs a port, such as %s://%s:1883 (8883 is usual for TLS)", scheme, u.Hostname())
	default:
		if _, err := parsePort(u.Port(), 1); err != nil {
			d.invalid(path, "%v", err)
		}
		return scheme
	}
	return ""
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = parsePort(port, 0)
	}
	if err == nil && strings.ContainsAny(host, " /") {
		err = fmt.Errorf("bad host %q", host)
	}
	if err != nil {
		return fmt.Errorf("must be host:port such as 127.0.0.1:1883 or 0.0.0.0:1883, got %q", addr)
	}
	return nil
}

func parsePort(s string, lowest int) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < lowest || p > 65535 {
		return 0, fmt.Errorf("port must be a number from %d to 65535, got %q", lowest, s)
	}
	return p, nil
}

// topic checks an MQTT topic evbridge publishes to or subscribes to
// literally.
func (d *decoder) topic(path, t string) {
	switch {
	case t == "":
		d.invalid(path, "must not be empty")
	case strings.ContainsAny(t, "+#"):
		d.invalid(path, "must not contain the MQTT wildcards + or #, got %q", t)
	case strings.HasPrefix(t, "$"):
		d.invalid(path, "must not start with $, which brokers reserve (as in $SYS), got %q", t)
	case strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") || strings.Contains(t, "//"):
		d.invalid(path, "must not start or end with / or have empty levels, got %q", t)
	case !utf8.ValidString(t) || strings.ContainsRune(t, 0) || len(t) > 1024:
		d.invalid(path, "must be UTF-8 without NUL characters and at most 1024 bytes")
	}
}

// oneOf checks an enumerated setting, case-insensitively, and returns it in
// lowercase.
func (d *decoder) oneOf(path, v string, valid ...string) string {
	l := strings.ToLower(v)
	if slices.Contains(valid, l) {
		return l
	}
	msg := fmt.Sprintf("must be one of %s, got %q", strings.Join(valid, ", "), v)
	if s := closest(l, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	d.invalid(path, "%s", msg)
	return v
}

func (d *decoder) validateCharger(c *Charger, p string, reg *charger.Registry) {
	switch {
	case c.Name == "":
		d.invalid(p+".name", "name is required: the charger's id in MQTT topics and Home Assistant, such as garage")
	case !nameRE.MatchString(c.Name):
		msg := fmt.Sprintf("must be 1 to 64 lowercase letters, digits or _, starting with a letter or digit, got %q", c.Name)
		fixed := strings.Trim(strings.NewReplacer("-", "_", " ", "_", ".", "_").Replace(strings.ToLower(c.Name)), "_")
		if nameRE.MatchString(fixed) {
			msg += fmt.Sprintf("; did you mean %s?", fixed)
		}
		d.invalid(p+".name", "%s", msg)
	case c.Name == "bridge" || c.Name == "site":
		d.invalid(p+".name", "%q is reserved for evbridge's own topics; choose another name", c.Name)
	}

	known := "no drivers are registered"
	if names := reg.Names(); len(names) > 0 {
		known = "known drivers: " + strings.Join(names, ", ")
	}
	if c.Driver == "" {
		d.invalid(p+".driver", "driver is required (%s)", known)
	} else if _, ok := reg.Lookup(c.Driver); !ok {
		msg := fmt.Sprintf("unknown driver %q", c.Driver)
		if s := closest(c.Driver, reg.Names()); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		d.invalid(p+".driver", "%s (%s)", msg, known)
	}

	if drv, ok := reg.Lookup(c.Driver); ok && drv.CheckAddress != nil {
		if err := drv.CheckAddress(c.Address); err != nil {
			d.invalid(p+".address", "%s: %v", c.Driver, err)
		}
	} else if err := checkAddress(c.Address); err != nil {
		d.invalid(p+".address", "%v", err)
	}
	if !(c.MaxCurrent >= MinCurrent && c.MaxCurrent <= MaxCurrentLimit) {
		d.invalid(p+".max_current", "must be between %g and %g A, got %g", MinCurrent, MaxCurrentLimit, c.MaxCurrent)
	}
	pollOK := c.PollInterval >= MinPollInterval && c.PollInterval <= MaxPollInterval
	if !pollOK {
		d.invalid(p+".poll_interval", "must be between %s and %s, got %s", MinPollInterval, MaxPollInterval, c.PollInterval)
	}
	switch {
	case c.Timeout < MinTimeout:
		d.invalid(p+".timeout", "must be at least %s, got %s", MinTimeout, c.Timeout)
	case pollOK && c.Timeout > c.PollInterval:
		d.invalid(p+".timeout", "must not be longer than poll_interval (%s), got %s", c.PollInterval, c.Timeout)
	}
}

// checkAddress accepts host, host:port, [IPv6], [IPv6]:port and a bare
// IPv6 address.
func checkAddress(addr string) error {
	const form = "the charger's host, host:port or [IPv6]:port, such as 192.0.2.20 or 192.0.2.20:502"
	if addr == "" {
		return fmt.Errorf("address is required: %s", form)
	}
	if strings.Contains(addr, "://") {
		return fmt.Errorf("must be a host or host:port, not a URL: %s", form)
	}
	host, port, err := splitAddress(addr)
	if err != nil || port == "" && strings.HasSuffix(addr, ":") {
		return fmt.Errorf("must be %s, got %q", form, addr)
	}
	if port != "" {
		if _, err := parsePort(port, 1); err != nil {
			return err
		}
	}
	if ip, _, _ := strings.Cut(host, "%"); net.ParseIP(ip) != nil {
		return nil
	}
	if !hostRE.MatchString(host) || len(host) > 253 {
		return fmt.Errorf("must be %s; %q is not a valid host name or IP address", form, host)
	}
	return nil
}
