package discover

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Probing on loopback: 127.0.0.0/8 is all local, so a /28 of it holds
// simulators, misbehaving servers and closed addresses without any
// traffic leaving the machine.

func TestProbeLoopbackSubnet(t *testing.T) {
	goeSim := startGoe(t, nil, "", "127.77.0.2:0", "G-1", false)
	httpPort := portOf(t, goeSim.Addr())
	al := startAlfen(t, nil, "", "127.77.0.3:0", "A-1")
	mbPort := portOf(t, al.Addr())
	at := func(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	// .4: HTML and Modbus garbage; .5: takes connections, never answers;
	// .6: OpenEVSE; .7: Shelly Pro 3EM; .8: a second go-e.
	serveTCP(t, at("127.77.0.4", httpPort), func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4096)) // the request, more or less
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<html/>\r\n"))
	})
	serveTCP(t, at("127.77.0.4", mbPort), func(c net.Conn) {
		b := make([]byte, 300)
		_, _ = rand.Read(b)
		_, _ = c.Write(b)
	})
	hang := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	serveTCP(t, at("127.77.0.5", httpPort), hang)
	serveTCP(t, at("127.77.0.5", mbPort), hang)
	serveHTTP(t, nil, "", at("127.77.0.6", httpPort), openEVSE("AA:BB:CC:00:00:06"))
	serveHTTP(t, nil, "", at("127.77.0.7", httpPort), shellyPro3EM("C8F09E000007"))
	startGoe(t, nil, "", at("127.77.0.8", httpPort), "G-2", false)

	o := quick()
	o.Registry = testRegistry(httpPort, mbPort)
	o.Ports = []int{httpPort, mbPort}
	start := time.Now()
	fs, err := Probe(t.Context(), "127.77.0.0/28", o)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{
		{Address: at("127.77.0.2", httpPort), Driver: "goe", Brand: "go-e", Model: "go-eCharger", Serial: "G-1", Firmware: "060.1"},
		{Address: at("127.77.0.3", mbPort), Driver: "alfen", Brand: "Alfen", Model: "NG910", Serial: "A-1", Firmware: "6.3.0-4203"},
		{Address: at("127.77.0.6", httpPort), Driver: "openevse", Brand: "OpenEVSE", Model: "OpenEVSE (openevse_wifi_v1)",
			Serial: "AA:BB:CC:00:00:06", Firmware: "4.1.0 (EVSE D7.1.2)"},
		{Address: at("127.77.0.7", httpPort), Driver: "shelly", Brand: "Shelly", Model: "Pro3EM (SPEM-003CEBEU)",
			Serial: "C8F09E000007", Firmware: "1.0.3", Kind: KindMeter},
		{Address: at("127.77.0.8", httpPort), Driver: "goe", Brand: "go-e", Model: "go-eCharger", Serial: "G-2", Firmware: "060.1"},
	}
	if len(fs) != len(want) {
		t.Fatalf("found %d devices, want %d: %+v", len(fs), len(want), fs)
	}
	for i := range want {
		w := want[i]
		w.FoundBy = ByProbe
		if w.Kind == "" {
			w.Kind = KindCharger
		}
		if fs[i] != w {
			t.Errorf("find %d:\n got %+v\nwant %+v", i, fs[i], w)
		}
	}
	// The silent host costs one request timeout per port, not one per
	// fingerprinter (3 HTTP ones) in a row.
	if took > 20*o.ConnTimeout+5*time.Second {
		t.Errorf("probe took %s; the silent host should cost about 2×%s", took, o.ConnTimeout)
	}
}

func TestProbeRefusesLargeSubnetsBeforeSending(t *testing.T) {
	var dials atomic.Int64
	o := Options{Dial: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("refused by test")
	}}
	for _, s := range []string{"10.0.0.0/21", "10.0.0.0/8", "0.0.0.0/0", "fd00::/64", "fd00::/117"} {
		_, err := Probe(t.Context(), s, o)
		if !errors.Is(err, ErrSubnetTooLarge) {
			t.Errorf("%s: want ErrSubnetTooLarge, got %v", s, err)
		} else if !strings.Contains(err.Error(), "/22") {
			t.Errorf("%s: the message should name the limit: %v", s, err)
		}
	}
	for _, s := range []string{"", "10.0.0.0/33", "10.0.0.300/24", "fe80::1%eth0/128", "host.lan/24"} {
		if _, err := Probe(t.Context(), s, o); err == nil || errors.Is(err, ErrSubnetTooLarge) {
			t.Errorf("%q: want a parse error, got %v", s, err)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("%d connections attempted for refused subnets", n)
	}
	// A raised limit allows it: every host but network and broadcast, on
	// both default ports.
	o.MaxPrefix = 21
	o.Concurrency = 512
	if _, err := Probe(t.Context(), "10.0.0.0/21", o); err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 2*(2048-2) {
		t.Fatalf("%d connection attempts for a /21, want %d", n, 2*(2048-2))
	}
}

func TestHostsOf(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.1.2.3/32":  "10.1.2.3",
		"10.1.2.2/31":  "10.1.2.2 10.1.2.3",
		"10.1.2.0/30":  "10.1.2.1 10.1.2.2",
		"0.0.0.0/31":   "0.0.0.1",
		"fd00::/127":   "fd00:: fd00::1",
		"10.1.2.77/29": "10.1.2.73 10.1.2.74 10.1.2.75 10.1.2.76 10.1.2.77 10.1.2.78",
	} {
		p, err := ParseSubnet(cidr, 22)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for a := range hostsOf(p) {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: got %v, want %s", cidr, got, want)
		}
	}
	if p, err := ParseSubnet("192.168.7.9", 22); err != nil || p.String() != "192.168.7.9/32" {
		t.Errorf("single address: %v %v", p, err)
	}
}

func TestProbeStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	o := Options{MaxPrefix: 20, Concurrency: 4, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done() // every host is a black hole
		return nil, ctx.Err()
	}}
	start := time.Now()
	_, err := Probe(ctx, "10.0.0.0/20", o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelled probe took %s", d)
	}
}
