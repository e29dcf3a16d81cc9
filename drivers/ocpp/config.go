package ocpp

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Subprotocols the central system speaks, as negotiated in the WebSocket
// handshake (Sec-WebSocket-Protocol).
const (
	ProtoOCPP16  = "ocpp1.6"
	ProtoOCPP201 = "ocpp2.0.1"
)

// Unknown charge point policies (ServerConfig.Unknown).
const (
	// UnknownAccept admits any charge point and offers it to the core.
	UnknownAccept = "accept"
	// UnknownPending lets it connect but answers its BootNotification with
	// Pending until a user adopts it (configures a charger for it).
	UnknownPending = "pending"
	// UnknownRefuse refuses the WebSocket handshake (HTTP 404).
	UnknownRefuse = "refuse"
)

// ServerConfig configures the one OCPP central system of the process: the
// `ocpp:` block of the configuration file. Charge points dial
// ws://<host>:<port><path_prefix>/<chargeBoxId> (wss:// with TLS).
type ServerConfig struct {
	// Listen is the host:port the central system listens on; ":8887"
	// serves every interface on OCPP's customary port.
	Listen string `yaml:"listen"`
	// PathPrefix is put before the charge point identity in the URL, such
	// as "/ocpp" for ws://host:8887/ocpp/<id>. Empty serves /<id>.
	PathPrefix string `yaml:"path_prefix"`
	// TLS, when CertFile and KeyFile are set, serves wss:// (OCPP security
	// profile 2 with passwords, 3 with client certificates); otherwise
	// ws:// (profile 1 with passwords, or no security).
	TLS ServerTLS `yaml:"tls"`
	// Protocols are the OCPP versions offered, in order of preference when
	// a charge point offers several: ocpp1.6 and/or ocpp2.0.1.
	Protocols []string `yaml:"protocols"`
	// Unknown is what happens to a charge point whose identity no charger
	// and no charge_points entry names: accept, pending or refuse.
	Unknown string `yaml:"unknown"`
	// ChargePoints lists charge points known without a charger entry (or
	// whose password is kept here rather than in the charger's options).
	ChargePoints []KnownChargePoint `yaml:"charge_points"`
	// IDTags are the RFID / idTag values allowed to charge. Empty means
	// free charging: every idTag is accepted.
	IDTags []string `yaml:"id_tags"`
	// HeartbeatInterval is the interval told to charge points at boot.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// MeterInterval is the MeterValueSampleInterval set at boot; a charge
	// point that refuses it is asked for 30 s and then 60 s.
	MeterInterval time.Duration `yaml:"meter_interval"`
	// CallTimeout bounds the wait for a charge point's answer to a call.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// PingInterval is how often the central system pings each charge
	// point; one that answers nothing for two intervals is dropped.
	PingInterval time.Duration `yaml:"ping_interval"`
	// MaxFrameBytes is the largest WebSocket message accepted; a larger
	// one closes the connection (close code 1009).
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// BootWait is how long a charge point that connects without a
	// BootNotification (it reconnected, or evbridge restarted) is given
	// before the central system asks for one with TriggerMessage.
	BootWait time.Duration `yaml:"boot_wait"`
}

// ServerTLS names the certificate for wss://, and the CA that signs the
// charge points' own certificates for security profile 3.
type ServerTLS struct {
	// CertFile is the PEM certificate chain the central system presents.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is the PEM CA certificate(s) charge point certificates
	// must chain to (security profile 3: TLS with client certificates).
	// A certificate is asked for but not required, so profile 2 and 3
	// charge points share the port; each charge point's
	// security_profile says which it must use.
	ClientCAFile string `yaml:"client_ca_file"`
	// Organization, if set, is the O a charge point certificate must name
	// (the OCPP security whitepaper: the CPO's name).
	Organization string `yaml:"organization"`
}

// KnownChargePoint is a charge point the central system admits.
type KnownChargePoint struct {
	// ID is the charge point identity (chargeBoxId), the last URL segment.
	ID string `yaml:"id"`
	// Password is its HTTP Basic authentication password (the OCPP
	// AuthorizationKey, user name = ID). Empty admits it without one.
	Password string `yaml:"password"`
	// SecurityProfile is the OCPP security profile the charge point must
	// connect with (the whitepaper's A00.FR.002: another is refused):
	// 0 accepts any (the password applies if set), 1 unsecured ws:// with
	// the password, 2 wss:// with the password, 3 wss:// with a client
	// certificate from tls.client_ca_file.
	SecurityProfile int `yaml:"security_profile"`
	// CertCN is the common name its certificate must carry in profile 3
	// (the charge point's serial number, per the whitepaper); empty means
	// the identity ID.
	CertCN string `yaml:"cert_cn"`
}

// DefaultServerConfig returns the central system's defaults.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Listen:            ":8887",
		Protocols:         []string{ProtoOCPP16, ProtoOCPP201},
		Unknown:           UnknownPending,
		HeartbeatInterval: 5 * time.Minute,
		MeterInterval:     10 * time.Second,
		CallTimeout:       30 * time.Second,
		PingInterval:      30 * time.Second,
		MaxFrameBytes:     64 << 10,
		BootWait:          5 * time.Second,
	}
}

// Validate checks the configuration without I/O.
func (c *ServerConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("ocpp: "+format, a...)) }
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		bad("listen: want host:port or :port, got %q", c.Listen)
	}
	if c.PathPrefix != "" && (!strings.HasPrefix(c.PathPrefix, "/") || strings.HasSuffix(c.PathPrefix, "/") ||
		strings.ContainsAny(c.PathPrefix, "?#% ")) {
		bad("path_prefix: want /segment[/segment...] without a trailing slash, got %q", c.PathPrefix)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls: cert_file and key_file go together")
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		bad("tls: client_ca_file needs cert_file and key_file (client certificates exist only over wss://)")
	}
	if len(c.Protocols) == 0 {
		bad("protocols: at least one of %s, %s", ProtoOCPP16, ProtoOCPP201)
	}
	for _, p := range c.Protocols {
		if p != ProtoOCPP16 && p != ProtoOCPP201 {
			bad("protocols: unknown %q (want %s or %s)", p, ProtoOCPP16, ProtoOCPP201)
		}
	}
	switch c.Unknown {
	case UnknownAccept, UnknownPending, UnknownRefuse:
	default:
		bad("unknown: want accept, pending or refuse, got %q", c.Unknown)
	}
	seen := map[string]bool{}
	for i, cp := range c.ChargePoints {
		if err := checkIdentity(cp.ID); err != nil {
			bad("charge_points[%d].id: %v", i, err)
		}
		if seen[cp.ID] {
			bad("charge_points[%d].id: %q listed twice", i, cp.ID)
		}
		seen[cp.ID] = true
		switch p := cp.SecurityProfile; {
		case p < 0 || p > 3:
			bad("charge_points[%d].security_profile: want 0 to 3, got %d", i, p)
		case p == 1 && cp.Password == "":
			bad("charge_points[%d].security_profile 1 needs a password", i)
		case p == 1 && c.TLS.CertFile != "":
			bad("charge_points[%d].security_profile 1 is ws://, but with tls set this central system serves wss:// only", i)
		case p == 2 && (c.TLS.CertFile == "" || cp.Password == ""):
			bad("charge_points[%d].security_profile 2 needs tls.cert_file and a password", i)
		case p == 3 && c.TLS.ClientCAFile == "":
			bad("charge_points[%d].security_profile 3 needs tls.client_ca_file", i)
		}
		if cp.CertCN != "" && cp.SecurityProfile != 3 {
			bad("charge_points[%d].cert_cn applies to security_profile 3 only", i)
		}
	}
	for i, tag := range c.IDTags {
		if tag == "" || len(tag) > 20 {
			bad("id_tags[%d]: want 1 to 20 characters, got %q", i, tag)
		}
	}
	check := func(name string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			bad("%s: want %s to %s, got %s", name, lo, hi, d)
		}
	}
	check("heartbeat_interval", c.HeartbeatInterval, 10*time.Second, 24*time.Hour)
	check("meter_interval", c.MeterInterval, time.Second, time.Hour)
	check("call_timeout", c.CallTimeout, 100*time.Millisecond, 5*time.Minute)
	check("ping_interval", c.PingInterval, 100*time.Millisecond, 10*time.Minute)
	check("boot_wait", c.BootWait, 0, time.Minute)
	if c.MaxFrameBytes < 4<<10 || c.MaxFrameBytes > 16<<20 {
		bad("max_frame_bytes: want 4096 to 16777216, got %d", c.MaxFrameBytes)
	}
	return errors.Join(errs...)
}

// checkIdentity accepts an OCPP charge point identity: 1 to 48 printable
// ASCII characters without "/" (it is a URL path segment) and without ":"
// (it is the HTTP Basic user name).
func checkIdentity(id string) error {
	if id == "" || len(id) > 48 {
		return fmt.Errorf("want 1 to 48 characters, got %d", len(id))
	}
	for _, r := range id {
		if r <= ' ' || r > '~' || r == '/' || r == ':' || r == '?' || r == '#' || r == '%' {
			return fmt.Errorf("%q: only printable ASCII without space / : ? # %%", id)
		}
	}
	return nil
}
