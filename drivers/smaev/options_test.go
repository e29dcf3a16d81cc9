package smaev

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// The options go through the daemon's own config loader, strictly; the
// password can come from a secret file and is masked in bridge/info.
func TestOptionsThroughConfigLoader(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "sma_password")
	if err := os.WriteFile(secret, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := `chargers:
  - name: garage
    driver: sma_evcharger
    address: 192.0.2.50
    options:
      username: evbridge
      password: ${file:` + secret + `}
`
	cfg, err := config.Parse([]byte(doc), "sma.yaml", charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Chargers[0].Options.(*Options)
	if o.Username != "evbridge" || o.Password != "s3cret pass" {
		t.Fatalf("decoded %+v", o)
	}
	if cfg.Chargers[0].PollInterval != 2*time.Second {
		t.Fatalf("poll interval %v, want the driver's 2s", cfg.Chargers[0].PollInterval)
	}
	if red := dump(cfg.Redacted()); strings.Contains(red, "s3cret") {
		t.Fatalf("password not masked: %s", red)
	}
	for bad, want := range map[string]string{
		strings.Replace(doc, "username:", "user:", 1):                       "user",
		strings.Replace(doc, "username: evbridge", "username: admin", 1):    `"admin" is not allowed`,
		strings.Replace(doc, "      password: ${file:"+secret+"}\n", "", 1): "username and password are required",
		strings.Replace(doc, "options:", "options: 7\n    x:", 1):           "options",
	} {
		if _, err := config.Parse([]byte(bad), "sma.yaml", charger.Default); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", want, err)
		}
	}
}

func TestRegistryAndAddress(t *testing.T) {
	t.Parallel()
	drv, ok := charger.Default.Lookup("sma_evcharger")
	if !ok || drv.DefaultPort != 80 || drv.DefaultPollInterval != 2*time.Second {
		t.Fatalf("registered driver: %+v", drv)
	}
	opts, _ := drv.NewOptions().(*Options)
	if opts == nil {
		t.Fatal("no options")
	}
	if _, err := drv.New(charger.Settings{Address: "192.0.2.9"}, opts, nil); err == nil {
		t.Fatal("default options (no login) accepted")
	}
	*opts = Options{Username: "u", Password: "p"}
	c, err := drv.New(charger.Settings{Address: "192.0.2.9"}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(charger.PhaseSwitcher); ok {
		t.Error("sma_evcharger claims phase switching")
	}
	if _, ok := c.(charger.Watchdogged); ok {
		t.Error("sma_evcharger claims a watchdog")
	}
	for _, o := range []Options{{Username: "u\n", Password: "p"}, {Username: "u"}, {Password: "p"}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for addr, want := range map[string]string{"192.0.2.9": "http://192.0.2.9:80", "evc.local:8080": "http://evc.local:8080",
		"[::1]:81": "http://[::1]:81"} {
		d, err := New(charger.Settings{Address: addr}, opts, nil)
		if err != nil || d.base != want {
			t.Errorf("address %q: %v, want %s", addr, err, want)
		}
	}
	for _, bad := range []string{"", "h/p", "http://x"} {
		if _, err := New(charger.Settings{Address: bad}, opts, nil); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestRegisteredSimulator(t *testing.T) {
	t.Parallel()
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "sma_evcharger" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no sma_evcharger simulator registered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	d := newDriver(t, <-bound, nil)
	if st := pollUntil(t, d, "a car", func(st charger.State) bool { return st.IEC != charger.IECA }); st.Brand != "SMA" {
		t.Fatalf("standalone simulator: %s", dump(st))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
