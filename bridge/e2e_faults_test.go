package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/evbridge/evbridge/drivers/mqttmeter"
)

// While a slow device call is in flight, newer commands replace queued
// ones: the device sees the first and the last value, not every one.
func TestLatestCommandWins(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	sim := startGoe(t, ctx)
	var mu sync.Mutex
	var amps []string
	sim.OnSet(func(key, value string) {
		if key == "amp" {
			mu.Lock()
			amps = append(amps, value)
			mu.Unlock()
		}
	})
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	c := goeCharger("garage", sim.Addr())
	c.Timeout = 3 * time.Second
	cfg.Chargers = []config.Charger{c}
	sub := bridgetest.Subscribe(t, m.URL(), "evbridge/#")
	startBridge(t, ctx, cfg)
	sub.WaitFor("evbridge/garage/availability", wait, payloadIs("online"))

	sim.SetSlowDelay(700 * time.Millisecond)
	sim.SetFault(goe.FaultSlow)
	for _, v := range []string{"7", "8", "9", "10", "11"} {
		sub.Publish("evbridge/garage/set/current_limit", false, v)
		time.Sleep(20 * time.Millisecond)
	}
	waitSim(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(amps) > 0 && amps[len(amps)-1] == "11"
	})
	sim.SetFault(goe.FaultNone)
	waitSim(t, func() bool { return sim.Snapshot().Amp == 11 })
	mu.Lock()
	defer mu.Unlock()
	if len(amps) > 2 {
		t.Errorf("device received %v: queued commands were not coalesced (want the first and the last)", amps)
	}
}

// A charger that answers garbage or hangs goes offline without holding up
// another charger on the same bridge.
func TestBadChargerDoesNotBlockOthers(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	good, bad, hung := startGoe(t, ctx), startGoe(t, ctx), startGoe(t, ctx)
	bad.SetFault(goe.FaultGarbage)
	hung.SetFault(goe.FaultHang)
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	cfg.Chargers = []config.Charger{goeCharger("good", good.Addr()), goeCharger("bad", bad.Addr()), goeCharger("hung", hung.Addr())}
	sub := bridgetest.Subscribe(t, m.URL(), "evbridge/#")
	startBridge(t, ctx, cfg)
	sub.WaitFor("evbridge/good/availability", wait, payloadIs("online"))
	sub.WaitFor("evbridge/bad/availability", wait, payloadIs("offline"))
	sub.WaitFor("evbridge/hung/availability", wait, payloadIs("offline"))
	sub.Publish("evbridge/good/set/current_limit", false, "13")
	waitSim(t, func() bool { return good.Snapshot().Amp == 13 })
	// The garbage is named in the state's last_error.
	bad.SetFault(goe.FaultNone)
	sub.WaitFor("evbridge/bad/availability", wait, payloadIs("online"))
	bad.SetFault(goe.FaultHTML)
	msg := sub.WaitFor("evbridge/bad/state", wait, func(m bridgetest.Message) bool {
		return strings.Contains(string(m.Payload), "malformed reply")
	})
	if !strings.Contains(string(msg.Payload), `"link_problem":true`) {
		t.Errorf("failing polls should set link_problem: %s", msg.Payload)
	}
}

// The bridge logs in with a user name and password, and over TLS.
func TestBrokerAuthAndTLS(t *testing.T) {
	ctx := bridgetest.Context(t)
	sim := startGoe(t, ctx)
	dir := t.TempDir()
	ca, cert, key := writeTestCerts(t, dir)
	m := bridgetest.StartMosquitto(t, bridgetest.MosquittoOptions{
		Users: map[string]string{"evb": "s3cret"},
		TLS:   &bridgetest.TLSFiles{CA: ca, Cert: cert, Key: key},
	})
	sub := bridgetest.SubscribeWith(t, bridgetest.ClientOptions{URL: m.TLSURL(), Username: "evb", Password: "s3cret", CAFile: ca}, "evbridge/#")

	cfg := testConfig()
	cfg.MQTT.Broker = m.TLSURL()
	cfg.MQTT.Username, cfg.MQTT.Password = "evb", "s3cret"
	cfg.MQTT.TLS.CAFile = ca
	cfg.Chargers = []config.Charger{goeCharger("garage", sim.Addr())}
	// A meter fed by MQTT with no broker of its own reads evbridge's:
	// over TLS with evbridge's CA and login.
	mo := mqttmeter.DefaultOptions()
	mo.Topic = "home/grid/power"
	cfg.Meters = []config.Meter{{Name: "grid", Driver: "mqtt_topic", Scale: 1, PollInterval: 500 * time.Millisecond,
		Timeout: time.Second, Options: &mo}}
	cfg.Site.GridMeter, cfg.Site.Tick = "grid", 500*time.Millisecond
	startBridge(t, ctx, cfg)
	sub.WaitFor("evbridge/bridge/state", wait, payloadIs("online"))
	sub.WaitFor("evbridge/garage/state", wait, nil)
	sub.Publish("home/grid/power", true, "1234")
	sub.WaitFor("evbridge/site/state", wait, func(m bridgetest.Message) bool {
		return strings.Contains(string(m.Payload), `"grid_power":1234`)
	})

	// Wrong password: the bridge keeps retrying and never publishes.
	bad := testConfig()
	bad.MQTT.Broker = m.URL()
	bad.MQTT.BaseTopic = "intruder"
	bad.MQTT.ClientID = "intruder"
	bad.MQTT.Username, bad.MQTT.Password = "evb", "wrong"
	b := startBridge(t, ctx, bad)
	time.Sleep(500 * time.Millisecond)
	if b.Connected() {
		t.Fatal("connected with a wrong password")
	}
}

func writeTestCerts(t *testing.T, dir string) (caPath, certPath, keyPath string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// A command for the value the charger already has is not written (no
// needless device writes, no flash wear).
func TestNoWriteWhenDeviceHasValue(t *testing.T) {
	ctx := bridgetest.Context(t)
	m := bridgetest.StartMosquitto(t)
	sim := startGoe(t, ctx)
	var mu sync.Mutex
	writes := 0
	sim.OnSet(func(key, _ string) {
		if key == "amp" {
			mu.Lock()
			writes++
			mu.Unlock()
		}
	})
	cfg := testConfig()
	cfg.MQTT.Broker = m.URL()
	cfg.Chargers = []config.Charger{goeCharger("garage", sim.Addr())}
	sub := bridgetest.Subscribe(t, m.URL(), "evbridge/#")
	startBridge(t, ctx, cfg)
	msg := sub.WaitFor("evbridge/garage/state", wait, nil)
	have := decodeState(t, msg)["current_limit"].(float64)
	sub.Publish("evbridge/garage/set/current_limit", false, strconv.FormatFloat(have, 'f', -1, 64))
	// A different value afterwards proves the first command was processed.
	sub.Publish("evbridge/garage/set/enabled", false, "OFF")
	waitSim(t, func() bool { return sim.Snapshot().Frc == 1 })
	mu.Lock()
	defer mu.Unlock()
	if writes != 0 {
		t.Fatalf("charger already had %v A, but amp was written %d times", have, writes)
	}
}
