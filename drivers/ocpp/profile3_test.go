package ocpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testCA signs charge point certificates for security profile 3.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a charge point certificate with this CN and O.
func (ca *testCA) client(t *testing.T, cn, org string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Security profile 3: a charge point authenticates with a certificate from
// the configured CA whose CN is its identity (or cert_cn) and whose O is
// the configured organization; profile 2 charge points share the port.
func TestSecurityProfile3(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverRoots := writeCert(t, dir)
	ca := newTestCA(t, "evbridge test CPO CA")
	caFile := filepath.Join(dir, "cpo-ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Unknown = UnknownRefuse
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
		ClientCAFile: caFile, Organization: "Garage CPO"}
	cfg.ChargePoints = []KnownChargePoint{
		{ID: "CP3", SecurityProfile: 3},
		{ID: "CP3SN", SecurityProfile: 3, CertCN: "SN-0042"},
		{ID: "CP2", SecurityProfile: 2, Password: "pw2"},
	}
	cs, reg, _ := startCS(t, cfg)

	d := newDriver(t, reg, "CP3", nil)
	sc := simConfig("CP3")
	sc.TLS = &tls.Config{RootCAs: serverRoots, Certificates: []tls.Certificate{ca.client(t, "CP3", "Garage CPO")}}
	runSim(t, cs.URL(), sc)
	pollUntil(t, d, "charging with a client certificate and no password", charging)

	d2 := newDriver(t, reg, "CP2", nil)
	sc2 := simConfig("CP2")
	sc2.TLS, sc2.Password = &tls.Config{RootCAs: serverRoots}, "pw2"
	runSim(t, cs.URL(), sc2)
	pollUntil(t, d2, "a profile 2 charge point on the same port", charging)

	dial := func(id string, cert *tls.Certificate) (int, error) {
		t.Helper()
		tc := &tls.Config{RootCAs: serverRoots}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		dl := websocket.Dialer{Subprotocols: []string{ProtoOCPP16}, HandshakeTimeout: 5 * time.Second, TLSClientConfig: tc}
		c, resp, err := dl.Dial(cs.URL()+"/"+id, http.Header{})
		if c != nil {
			_ = c.Close()
		}
		if resp != nil {
			return resp.StatusCode, err
		}
		return 0, err
	}
	stranger := newTestCA(t, "someone else's CA")
	cases := []struct {
		name string
		id   string
		cert *tls.Certificate
		want int // HTTP status
	}{
		{"no certificate", "CP3", nil, http.StatusUnauthorized},
		{"another charge point's certificate", "CP3", ptr(ca.client(t, "CP9", "Garage CPO")), http.StatusForbidden},
		{"another organization", "CP3", ptr(ca.client(t, "CP3", "Someone Else")), http.StatusForbidden},
		{"cert_cn instead of the identity", "CP3SN", ptr(ca.client(t, "CP3SN", "Garage CPO")), http.StatusForbidden},
		// Go's client offers no certificate the server's CA list does not
		// name, so this one arrives without; sent anyway, the server's
		// TLS handshake would fail.
		{"a certificate from another CA", "CP3", ptr(stranger.client(t, "CP3", "Garage CPO")), http.StatusUnauthorized},
	}
	for _, c := range cases {
		code, err := dial(c.id, c.cert)
		if err == nil || code != c.want {
			t.Errorf("%s: status %d, err %v; want refused with %d", c.name, code, err, c.want)
		}
	}
	// A foreign certificate pushed anyway fails the TLS handshake.
	forced := stranger.client(t, "CP3", "Garage CPO")
	dl := websocket.Dialer{Subprotocols: []string{ProtoOCPP16}, HandshakeTimeout: 5 * time.Second,
		TLSClientConfig: &tls.Config{RootCAs: serverRoots, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &forced, nil
		}}}
	if c, resp, err := dl.Dial(cs.URL()+"/CP3", nil); err == nil || resp != nil {
		if c != nil {
			_ = c.Close()
		}
		t.Errorf("a foreign certificate got past TLS: resp %v, err %v", resp, err)
	}
	if code, err := dial("CP3SN", ptr(ca.client(t, "SN-0042", "Garage CPO"))); err != nil {
		t.Errorf("cert_cn SN-0042: status %d, err %v", code, err)
	}
	// Profile 2 without TLS is refused even with the right password.
	plain := "ws://" + strings.TrimPrefix(cs.URL(), "wss://")
	if _, _, err := dialRaw(t, plain+"/CP2", []string{ProtoOCPP16}, "CP2", "pw2"); err == nil {
		t.Error("profile 2 charge point admitted over ws://")
	}
}

func TestSecurityProfileConfig(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.ChargePoints = []KnownChargePoint{
		{ID: "A", SecurityProfile: 3},
		{ID: "B", SecurityProfile: 2, Password: "x"},
		{ID: "C", SecurityProfile: 1},
		{ID: "D", SecurityProfile: 4},
		{ID: "E", CertCN: "SN"},
	}
	cfg.TLS.ClientCAFile = "ca.pem"
	err := cfg.Validate()
	for _, want := range []string{
		"client_ca_file needs cert_file",
		"charge_points[1].security_profile 2 needs tls.cert_file",
		"charge_points[2].security_profile 1 needs a password",
		"charge_points[3].security_profile: want 0 to 3, got 4",
		"charge_points[4].cert_cn applies to security_profile 3 only",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	cfg.ChargePoints = []KnownChargePoint{{ID: "P1", SecurityProfile: 1, Password: "x"}}
	cfg.TLS = ServerTLS{CertFile: "c", KeyFile: "k"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "serves wss:// only") {
		t.Errorf("profile 1 behind TLS: %v", err)
	}
	cfg.ChargePoints = []KnownChargePoint{{ID: "A", SecurityProfile: 3}}
	cfg.TLS = ServerTLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid profile 3 setup: %v", err)
	}
}
