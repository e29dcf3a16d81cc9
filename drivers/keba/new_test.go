package keba

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

func TestOptionsValidate(t *testing.T) {
	ok := []func(*Options){
		func(o *Options) {},
		func(o *Options) { o.LocalPort, o.LocalIP = 0, "192.0.2.1" },
		func(o *Options) { o.CurrentCommand = "curr" },
		func(o *Options) { o.FailsafeTimeout, o.FailsafeCurrent = 10*time.Second, 0 },
		func(o *Options) { o.FailsafeTimeout, o.FailsafeCurrent = 10*time.Minute, 63 },
	}
	for i, f := range ok {
		o := DefaultOptions()
		f(o)
		if err := o.Validate(); err != nil {
			t.Errorf("valid options %d: %v", i, err)
		}
	}
	bad := []struct {
		f    func(*Options)
		want string
	}{
		{func(o *Options) { o.LocalPort = 70000 }, "local_port 70000"},
		{func(o *Options) { o.LocalIP = "eth0" }, `local_ip "eth0"`},
		{func(o *Options) { o.CurrentCommand = "setcurrent" }, "current_command"},
		{func(o *Options) { o.FailsafeTimeout = 5 * time.Second }, "failsafe_timeout 5s"},
		{func(o *Options) { o.FailsafeTimeout = 700 * time.Second }, "failsafe_timeout"},
		{func(o *Options) { o.FailsafeTimeout = 10500 * time.Millisecond }, "whole seconds"},
		{func(o *Options) { o.FailsafeTimeout, o.FailsafeCurrent = time.Minute, 5 }, "failsafe_current 5 A"},
		{func(o *Options) { o.FailsafeCurrent = 6 }, "needs failsafe_timeout"},
	}
	for _, c := range bad {
		o := DefaultOptions()
		c.f(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", o, err, c.want)
		}
	}
}

func TestNewAddresses(t *testing.T) {
	o := DefaultOptions()
	o.LocalIP = "127.0.9.11" // nothing is bound by New
	for addr, want := range map[string]string{
		"192.0.2.7":      "192.0.2.7:7090",
		"192.0.2.8:7091": "192.0.2.8:7091",
		"keba.local":     "keba.local:7090",
		"[::1]:7092":     "::1:7092",
	} {
		d, err := New(charger.Settings{Address: addr}, o, nil)
		if err != nil {
			t.Errorf("address %q: %v", addr, err)
			continue
		}
		if got := d.host + ":" + strconv.Itoa(int(d.port)); got != want {
			t.Errorf("address %q: %s, want %s", addr, got, want)
		}
		_ = d.Close()
	}
	for _, addr := range []string{"", "  ", "host/path", "h:0", "h:99999", "h:x"} {
		if d, err := New(charger.Settings{Address: addr}, o, nil); err == nil {
			_ = d.Close()
			t.Errorf("address %q accepted", addr)
		}
	}
	if _, err := New(charger.Settings{Address: "h"}, &Options{CurrentCommand: "x"}, nil); err == nil {
		t.Error("invalid options accepted")
	}
	sockets.mu.Lock()
	_, left := sockets.conns["127.0.9.11:7090"]
	sockets.mu.Unlock()
	if left {
		t.Error("drivers that were closed or refused left the socket entry behind")
	}
}

func TestRegistered(t *testing.T) {
	drv, ok := charger.Default.Lookup("keba_udp")
	if !ok || drv.DefaultPort != 7090 || drv.DefaultPollInterval != 5*time.Second {
		t.Fatalf("registered driver: %+v", drv)
	}
	opts, ok := drv.NewOptions().(*Options)
	if !ok || opts.LocalPort != 7090 || opts.CurrentCommand != "currtime" {
		t.Fatalf("NewOptions gave %#v", drv.NewOptions())
	}
	opts.LocalIP = "127.0.9.12"
	c, err := drv.New(charger.Settings{Address: "192.0.2.7"}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.(charger.Closer).Close()
	for name, ok := range map[string]bool{
		"CurrentSetter": is[charger.CurrentSetter](c), "Enabler": is[charger.Enabler](c),
		"Watchdogged": is[charger.Watchdogged](c), "Closer": is[charger.Closer](c),
	} {
		if !ok {
			t.Errorf("driver lost %s", name)
		}
	}
	if is[charger.PhaseSwitcher](c) {
		t.Error("the UDP interface has no phase switching; the driver must not claim it")
	}
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

// The registered simulator answers to port 7090 like a station; the test
// owns 127.0.0.1:7090 when it can and skips otherwise.
func TestRegisteredSimulatorRuns(t *testing.T) {
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "keba_udp" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no keba_udp simulator registered")
	}
	o := DefaultOptions()
	o.LocalIP = "127.0.0.1"
	probe, err := net.ListenPacket("udp", "127.0.0.1:7090")
	if err != nil {
		t.Skipf("port 7090 is taken on this machine: %v", err)
	}
	_ = probe.Close()
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nextIP()+":0", func(a string) { bound <- a }) }()
	d, err := New(charger.Settings{Address: <-bound, Timeout: 2 * time.Second}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := pollUntil(t, d, "a plugged-in car", func(st charger.State) bool { return st.IEC != charger.IECA })
	if st.Brand != "KEBA" {
		t.Fatalf("standalone simulator: %s", dump(st))
	}
	_ = d.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// The options go through the daemon's own config loader.
func TestOptionsThroughConfigLoader(t *testing.T) {
	doc := `chargers:
  - name: carport
    driver: keba_udp
    address: 192.0.2.40
    options:
      failsafe_timeout: 30s
      failsafe_current: 6
      current_command: curr
`
	cfg, err := config.Parse([]byte(doc), "keba.yaml", charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Chargers[0].Options.(*Options)
	if o.FailsafeTimeout != 30*time.Second || o.FailsafeCurrent != 6 || o.CurrentCommand != "curr" || o.LocalPort != 7090 {
		t.Fatalf("decoded %+v", o)
	}
	if cfg.Chargers[0].PollInterval != 5*time.Second {
		t.Fatalf("poll interval %v, want the driver's 5s", cfg.Chargers[0].PollInterval)
	}
	for bad, want := range map[string]string{
		strings.Replace(doc, "failsafe_timeout: 30s", "failsafe_timeout: 5s", 1): "failsafe_timeout 5s",
		strings.Replace(doc, "current_command", "current_cmd", 1):                "current_cmd",
		strings.Replace(doc, "failsafe_current: 6", "failsafe_current: six", 1):  "failsafe_current",
	} {
		if _, err := config.Parse([]byte(bad), "keba.yaml", charger.Default); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", want, err)
		}
	}
}
