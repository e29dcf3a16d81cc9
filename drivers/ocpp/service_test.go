package ocpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// TestServiceAndSimulatorRegistered runs the central system as the core
// would (the registered service on DefaultRegistry) and the registered
// simulator as `evbridge sim ocpp` would.
func TestServiceAndSimulatorRegistered(t *testing.T) {
	svc, ok := charger.LookupService("ocpp")
	if !ok || len(svc.Drivers) != 1 || svc.Drivers[0] != "ocpp" {
		t.Fatalf("service: %+v %v", svc, ok)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	opts := svc.NewOptions().(*ServerConfig)
	opts.Listen, opts.Unknown, opts.BootWait, opts.MeterInterval = addr, UnknownAccept, 50*time.Millisecond, time.Second
	host := &fakeHost{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := svc.Start(ctx, opts, host, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := svc.Start(ctx, opts, host, testLog(t)); err == nil {
		t.Fatal("a second central system started on the same registry")
	}

	var sim charger.Simulator
	for _, s := range charger.Simulators() {
		if s.Name == "ocpp" {
			sim = s
		}
	}
	ready := make(chan string, 1)
	simDone := make(chan error, 1)
	go func() {
		simDone <- sim.Run(ctx, addr+"#id=regsim&quirks=slow-meter,no-phase-switch", func(id string) { ready <- id })
	}()
	id := <-ready
	if id != "regsim" {
		t.Fatalf("simulator ready as %q", id)
	}
	// The simulator reports ready on its side of the socket; the central
	// system offers the stranger once it has seen it. Adopting it before
	// then would (rightly) suppress the offer.
	eventually(t, "the stranger offered to the host", func() (bool, any) {
		o, ok := host.last("regsim")
		return ok && o.Online, o
	})
	drv, _ := charger.Default.Lookup("ocpp")
	dev, err := drv.New(charger.Settings{Name: "reg", Address: id, MaxCurrent: 16}, drv.NewOptions(), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	d := dev.(*Driver)
	defer d.Close()
	pollUntil(t, d, "the registered simulator charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if err := d.SetPhases(t.Context(), 1); err == nil {
		t.Fatal("the no-phase-switch quirk was not applied")
	}
	cancel()
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
	// stop returns once the central system has let go of the registry
	// and its port, so the core can start another at once.
	stop()
	if DefaultRegistry.served() {
		t.Error("the registry is still served after stop returned")
	}
	if ln, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("the port is still held after stop returned: %v", err)
	} else {
		ln.Close()
	}
	if err := sim.Run(context.Background(), addr+"#quirks=nonsense", nil); err == nil {
		t.Fatal("unknown quirk profile accepted")
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pool := writeCert(t, dir)
	cfg := testConfig()
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	cs, reg, _ := startCS(t, cfg)
	if !strings.HasPrefix(cs.URL(), "wss://") {
		t.Fatalf("URL %s", cs.URL())
	}
	d := newDriver(t, reg, "CP1", &Options{Connector: 1, Password: "pw"})
	sc := simConfig("CP1")
	sc.TLS, sc.Password = &tls.Config{RootCAs: pool}, "pw"
	runSim(t, cs.URL(), sc)
	pollUntil(t, d, "charging over wss with a password", charging)
	if _, _, err := dialRaw(t, "ws://"+strings.TrimPrefix(cs.URL(), "wss://")+"/CP2", []string{ProtoOCPP16}, "", ""); err == nil {
		t.Fatal("plain ws:// accepted on the TLS port")
	}
}

func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evbridge test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

func TestCallErrors201(t *testing.T) {
	t.Parallel()
	cs, _, _ := startCS(t, testConfig())
	c, _, err := dialRaw(t, cs.URL()+"/raw201", []string{ProtoOCPP201}, "", "")
	if err != nil || c.Subprotocol() != ProtoOCPP201 {
		t.Fatalf("dial: %v", err)
	}
	r := &rawCP{t: t, c: c}
	profile := `{"evseId":1,"chargingProfile":{"id":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",` +
		`"chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":6}]}]}}`
	for _, tc := range []struct{ frame, code string }{
		{`[2,"a","FooBar",{}]`, "NotImplemented"},
		{`[2,"b","Heartbeat"]`, "FormatViolation"},
		{`[9,"c","Heartbeat",{}]`, "MessageTypeNotSupported"},
		{`[2,"d","BootNotification",{"reason":"PowerUp"}]`, "OccurrenceConstraintViolation"},
		{`[2,"e","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z","connectorStatus":"Occupied","evseId":"one","connectorId":1}]`, "TypeConstraintViolation"},
		{`[2,"f","SetChargingProfile",` + profile + `]`, "NotSupported"},
	} {
		var f []any
		_ = json.Unmarshal([]byte(tc.frame), &f)
		r.send(tc.frame)
		if got := r.reply(f[1].(string)); got[0] != float64(4) || got[2] != tc.code {
			t.Errorf("%s: answer %v, want CALLERROR %s", tc.frame, got, tc.code)
		}
	}
	r.send(`[2,"ok","Heartbeat",{}]`)
	if got := r.reply("ok"); got[0] != float64(3) {
		t.Fatalf("heartbeat after errors: %v", got)
	}
}
