// Package config reads evbridge's YAML configuration file.
//
// Decoding is strict: an unknown key, a value of the wrong type or a value
// out of range is an error naming the file, line, column and key path, and
// every such error is reported at once (see Errors). Before decoding,
// ${VAR}, ${VAR:-default} and ${file:/path} in scalar values are replaced
// from the environment and from files, so secrets can stay out of the file.
// config.example.yaml at the repository root documents every key.
package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the whole evbridge configuration.
type Config struct {
	// MQTT is the connection to the MQTT broker.
	MQTT MQTT `yaml:"mqtt"`
	// HomeAssistant controls Home Assistant MQTT discovery.
	HomeAssistant HomeAssistant `yaml:"homeassistant"`
	// Log controls the daemon's own log output.
	Log Log `yaml:"log"`
	// State is where runtime changes are kept across restarts.
	State State `yaml:"state"`
	// HTTP is the local web UI, REST API, metrics and health endpoints.
	HTTP HTTP `yaml:"http"`
	// Discovery controls how evbridge finds chargers by itself.
	Discovery Discovery `yaml:"discovery"`
	// Site configures solar-surplus charging and the site limit.
	Site Site `yaml:"site"`
	// Meters lists the grid, PV and battery meters.
	Meters []Meter `yaml:"meters"`
	// Chargers lists the chargers evbridge drives.
	Chargers []Charger `yaml:"chargers"`
	// Services holds the decoded top-level blocks of driver services, such
	// as `ocpp:`, by service name; a service without a block is absent.
	Services map[string]any `yaml:"-"`
	// Source is the file the configuration was read from, or "" when it
	// holds the defaults.
	Source string `yaml:"-"`
}

// MQTT is the connection to the MQTT broker.
type MQTT struct {
	// Broker is the URL of an external broker, such as
	// tcp://192.0.2.10:1883 or mqtts://broker.example:8883. The schemes
	// tcp, mqtt, ssl, tls, mqtts, ws and wss are accepted and a port is
	// required. Empty means evbridge starts its own embedded broker.
	Broker string `yaml:"broker"`
	// Embedded configures the broker evbridge starts when Broker is empty.
	Embedded Embedded `yaml:"embedded"`
	// Username is the user name evbridge logs in to the broker with.
	Username string `yaml:"username"`
	// Password is the broker password. It is a secret: Redacted hides it
	// and it is never logged.
	Password string `yaml:"password"`
	// ClientID is evbridge's MQTT client id. It must be unique on the
	// broker.
	ClientID string `yaml:"client_id"`
	// BaseTopic is the first topic level or levels of everything evbridge
	// publishes, such as evbridge/<charger>/state. Wildcards are not
	// allowed.
	BaseTopic string `yaml:"base_topic"`
	// KeepAlive is the MQTT keep-alive interval, in whole seconds.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// TLS configures encryption to an ssl, tls, mqtts or wss broker.
	TLS TLS `yaml:"tls"`
}

// Embedded configures the MQTT broker built into evbridge.
type Embedded struct {
	// Listen is the host:port the embedded broker listens on. The default
	// accepts local clients only; use 0.0.0.0:1883 to serve the LAN.
	Listen string `yaml:"listen"`
}

// TLS configures the TLS connection to an external broker.
type TLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the
	// broker's certificate. Empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile is the PEM client certificate for brokers that require
	// one. CertFile and KeyFile are set together or not at all.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file"`
	// InsecureSkipVerify accepts any broker certificate. It is meant for
	// tests only: it makes the connection open to interception.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// ServerName is the name checked against the broker's certificate
	// when it differs from the host in Broker.
	ServerName string `yaml:"server_name"`
}

// HomeAssistant controls Home Assistant MQTT discovery.
type HomeAssistant struct {
	// Discovery publishes discovery messages so Home Assistant creates a
	// device and its entities for the bridge and every charger.
	Discovery bool `yaml:"discovery"`
	// Prefix is Home Assistant's discovery prefix.
	Prefix string `yaml:"prefix"`
	// StatusTopic is where Home Assistant announces that it has started;
	// evbridge publishes its discovery messages again when it does.
	StatusTopic string `yaml:"status_topic"`
}

// Log controls the daemon's own log output.
type Log struct {
	// Level is the least severe level logged: debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text for people or json for log collectors.
	Format string `yaml:"format"`
}

// Charger is one charger evbridge drives.
type Charger struct {
	// Name is the charger's stable id in MQTT topics and Home Assistant:
	// lowercase letters, digits and underscores, starting with a letter
	// or digit, at most 64 characters, unique in the file.
	Name string `yaml:"name"`
	// Driver is the registered driver that speaks the charger's protocol.
	Driver string `yaml:"driver"`
	// Address is the charger's host, host:port or [IPv6]:port. Without a
	// port the driver's default port is used.
	Address string `yaml:"address"`
	// MaxCurrent is the ceiling, in amperes per phase, that evbridge never
	// asks the charger to exceed, whatever Home Assistant or the solar
	// controller request. It is at most the rating of the charger's
	// circuit, between 6 and 80.
	MaxCurrent float64 `yaml:"max_current"`
	// PollInterval is how often the charger is read, between 200ms and
	// 10m. The default is the driver's.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds each request to the charger, between 100ms and
	// PollInterval. The default is 2s, or PollInterval when that is
	// shorter.
	Timeout time.Duration `yaml:"timeout"`
	// Mode is the charging mode the solar controller starts with (off,
	// now, minpv, pv, plan) until a user changes it at runtime; used only
	// when site.grid_meter is set.
	Mode string `yaml:"mode"`
	// Priority orders chargers when surplus or the site limit is short;
	// higher goes first, equal priorities share equally.
	Priority int `yaml:"priority"`
	// Phases is how many phases the charger is wired with (1 or 3).
	Phases int `yaml:"phases"`
	// Options is the decoded `options:` block: the pointer the driver's
	// NewOptions returned, holding its defaults where the block is silent.
	// It is nil when the driver takes no options.
	Options any `yaml:"-"`
	// Line is the line of this entry in the file, for messages.
	Line int `yaml:"-"`
}

// Defaults of the settings that have one. The poll interval's default is
// the driver's (charger.Driver.DefaultPollInterval).
const (
	DefaultClientID       = "evbridge"
	DefaultBaseTopic      = "evbridge"
	DefaultKeepAlive      = 30 * time.Second
	DefaultEmbeddedListen = "127.0.0.1:1883"
	DefaultHAPrefix       = "homeassistant"
	DefaultHAStatusTopic  = "homeassistant/status"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultMaxCurrent     = 16.0
	DefaultTimeout        = 2 * time.Second
)

// unset marks a duration the file did not set, so an explicit 0 stays an
// error instead of silently becoming the default.
const unset = time.Duration(-1 << 63)

// fallbackPollInterval is used for a driver that declares no default.
const fallbackPollInterval = 2 * time.Second

// HTTP configures evbridge's web server: the UI, /api/v1, /metrics,
// /healthz and /readyz.
type HTTP struct {
	// Listen is the address the web server listens on; empty turns it off.
	// Listening beyond loopback without a token or password logs a loud
	// warning.
	Listen string `yaml:"listen"`
	// Token, when set, is required as "Authorization: Bearer <token>" (or
	// the UI's login) for everything but /healthz and /readyz.
	Token string `yaml:"token"`
	// Username and Password, when set, are required as HTTP basic auth.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Ingress serves Home Assistant's ingress: only the Supervisor's
	// address (172.30.32.2) may connect, and HA authenticates the user.
	Ingress bool `yaml:"ingress"`
}

// DefaultHTTPListen keeps the web server on this machine unless asked.
const DefaultHTTPListen = "127.0.0.1:8080"

// State is where evbridge keeps what users change at runtime (accepted
// chargers, modes, last setpoints).
type State struct {
	// File is the state file. A relative path is taken from the config
	// file's directory; empty means evbridge-state.json beside the config
	// file. The word "none" keeps state in memory only.
	File string `yaml:"file"`
}

// DefaultStateFile is the state file's name beside the config file.
const DefaultStateFile = "evbridge-state.json"

// StateFile resolves State.File against the config file's directory; ""
// means keep state in memory (State.File "none", or no config file and no
// path given).
func (c *Config) StateFile() string {
	f := c.State.File
	switch {
	case f == "none":
		return ""
	case f == "" && c.Source == "":
		return ""
	case f == "":
		return filepath.Join(filepath.Dir(c.Source), DefaultStateFile)
	case filepath.IsAbs(f) || c.Source == "":
		return f
	}
	return filepath.Join(filepath.Dir(c.Source), f)
}

// Default returns the configuration used when the file sets nothing: the
// embedded broker, Home Assistant discovery on, and no chargers.
func Default() *Config {
	return &Config{
		MQTT: MQTT{
			Embedded:  Embedded{Listen: DefaultEmbeddedListen},
			ClientID:  DefaultClientID,
			BaseTopic: DefaultBaseTopic,
			KeepAlive: DefaultKeepAlive,
		},
		HomeAssistant: HomeAssistant{
			Discovery:   true,
			Prefix:      DefaultHAPrefix,
			StatusTopic: DefaultHAStatusTopic,
		},
		Log:       Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		HTTP:      HTTP{Listen: DefaultHTTPListen},
		Site:      defaultSite(),
		Discovery: defaultDiscovery(),
	}
}

// setDefaults prepares a charger entry before its mapping is decoded into
// it; the decoder calls it for every new slice element.
func (c *Charger) setDefaults() {
	c.MaxCurrent = DefaultMaxCurrent
	c.Mode = DefaultChargerMode
	c.Phases = DefaultChargerPhase
	c.PollInterval = unset
	c.Timeout = unset
}

// HostPort returns Address with defaultPort added when it has no port, in
// a form net.Dial accepts (IPv6 hosts in brackets). A defaultPort of 0 or
// less leaves a port-less address as it is.
func (c *Charger) HostPort(defaultPort int) string {
	host, port, err := splitAddress(c.Address)
	if err != nil || port != "" || defaultPort <= 0 {
		if err == nil && port == "" && strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return c.Address
	}
	return net.JoinHostPort(host, strconv.Itoa(defaultPort))
}

// splitAddress splits host, host:port, [v6], [v6]:port or a bare IPv6
// address into host and port ("" when absent).
func splitAddress(addr string) (host, port string, err error) {
	switch {
	case strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]"):
		return addr[1 : len(addr)-1], "", nil
	case strings.HasPrefix(addr, "["), strings.Count(addr, ":") == 1:
		return net.SplitHostPort(addr)
	}
	return addr, "", nil
}
