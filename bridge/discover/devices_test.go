package discover

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/alfen"
	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/grandcat/zeroconf"
)

// Simulated devices for the tests, started inside a namespace (ns "")
// or on loopback. Each is closed at cleanup.

// startGoe starts a go-e simulator on addr, advertised over mDNS when
// advertise is set.
func startGoe(t testing.TB, lab *netLab, ns, addr, serial string, advertise bool) *goe.Simulator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim := goe.NewSimulator(goe.SimConfig{Serial: serial, Firmware: "060.1"})
	start := func() error {
		if err := sim.Start(ctx, addr); err != nil {
			return err
		}
		if advertise {
			stop, err := sim.Advertise(ctx, nil)
			if err != nil {
				return err
			}
			t.Cleanup(stop)
		}
		return nil
	}
	if ns == "" {
		if err := start(); err != nil {
			t.Fatal(err)
		}
	} else {
		lab.in(ns, start)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// startAlfen starts an Alfen station simulator on addr.
func startAlfen(t testing.TB, lab *netLab, ns, addr, serial string) *alfen.Simulator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim := alfen.NewSimulator(alfen.SimConfig{Serial: serial, Firmware: "6.3.0-4203", Platform: "NG910"})
	start := func() error { return sim.Start(ctx, addr) }
	if ns == "" {
		if err := start(); err != nil {
			t.Fatal(err)
		}
	} else {
		lab.in(ns, start)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// advertise registers a DNS-SD service from inside ns, as a device would.
func advertise(t testing.TB, lab *netLab, ns, instance, service, host, ip string, port int, txt []string) {
	t.Helper()
	lab.in(ns, func() error {
		srv, err := zeroconf.RegisterProxy(instance, service, "local.", port, host, []string{ip}, txt, nil)
		if err != nil {
			return err
		}
		t.Cleanup(srv.Shutdown)
		return nil
	})
}

// openEVSE is a fake OpenEVSE WiFi gateway: just the identity endpoints
// (protocols.md §2), with the values of the API's example.
func openEVSE(mac string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"firmware": "D7.1.2", "protocol": "-",
			"buildenv": "openevse_wifi_v1", "version": "4.1.0", "hostname": "openevse-a7d4",
			"www_password": "_DUMMY_PASSWORD", "max_current_hard": 32})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"state": 1, "amp": 0, "macaddress": mac})
	})
	return mux
}

// shellyPro3EM is a fake Shelly Pro 3EM answering GET /shelly.
func shellyPro3EM(mac string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shelly", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "shellypro3em-" + mac, "mac": mac,
			"model": "SPEM-003CEBEU", "gen": 2, "fw_id": "20230913-114003/v1.0.3-g6b42e3f",
			"ver": "1.0.3", "app": "Pro3EM", "auth_en": false})
	})
	return mux
}

// serveHTTP serves h on addr (inside ns unless ns is "").
func serveHTTP(t testing.TB, lab *netLab, ns, addr string, h http.Handler) string {
	t.Helper()
	var ln net.Listener
	listen := func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}
	if ns == "" {
		if err := listen(); err != nil {
			t.Fatal(err)
		}
	} else {
		lab.in(ns, listen)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// serveTCP accepts connections on addr and hands each to handle.
func serveTCP(t testing.TB, addr string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-done; _ = c.Close() }()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// portOf returns the port of host:port.
func portOf(t testing.TB, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// testRegistry is the built-in fingerprinters with HTTP ones on httpPort
// and Modbus ones on mbPort, for devices on loopback's free ports.
func testRegistry(httpPort, mbPort int) *Registry {
	r := &Registry{}
	for _, f := range builtins() {
		if f.HTTP != nil {
			f.Port = httpPort
		} else {
			f.Port = mbPort
		}
		r.Add(f)
	}
	return r
}

// byAddr indexes finds by address.
func byAddr(fs []Found) map[string]Found {
	m := map[string]Found{}
	for _, f := range fs {
		m[f.Address] = f
	}
	return m
}
