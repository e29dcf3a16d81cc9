package discover

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/keba"
)

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// Probing finds a KEBA station by its UDP "report 1" answer, with its
// identity; KEBA has no TCP port to fingerprint.
func TestProbeFindsKEBAOverUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	local := freeUDPPort(t)
	sim := keba.NewSimulator(keba.SimConfig{Serial: "17009999", Product: "KC-P30-ES240022-E0R", ReplyPort: local})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	_, port, _ := net.SplitHostPort(sim.Addr())
	p, _ := strconv.Atoi(port)
	fs, err := Probe(ctx, "127.0.0.1/32", Options{KEBAPort: p, KEBALocalPort: local, Ports: []int{1}, ConnTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var got *Found
	for i := range fs {
		if fs[i].Driver == "keba_udp" {
			got = &fs[i]
		}
	}
	if got == nil {
		t.Fatalf("KEBA not found: %+v", fs)
	}
	if got.Serial != "17009999" || got.Model != "KC-P30-ES240022-E0R" || got.Brand != "KEBA" || got.Address != sim.Addr() || !got.Verified() {
		t.Errorf("found %+v", *got)
	}

	// A negative port turns the KEBA probe off.
	fs, _ = Probe(ctx, "127.0.0.1/32", Options{KEBAPort: -1, Ports: []int{1}, ConnTimeout: 200 * time.Millisecond})
	for _, f := range fs {
		if f.Driver == "keba_udp" {
			t.Errorf("KEBA probe ran although off: %+v", f)
		}
	}
}

func TestParseKEBAReport1(t *testing.T) {
	if r, ok := parseKEBAReport1([]byte(`{"ID": "1","Product": "KC-P30-EC240422-E00","Serial": "22334455","Firmware":"P30 v 3.10.57"}`)); !ok || r.Serial != "22334455" {
		t.Fatalf("%+v %v", r, ok)
	}
	for _, bad := range []string{`TCH-OK :done`, `{"ID":"2","Serial":"1"}`, `{"ID":"1"}`, `{`, ``, `[1]`} {
		if _, ok := parseKEBAReport1([]byte(bad)); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseKEBAReport1(f *testing.F) {
	f.Add([]byte(`{"ID":"1","Product":"KC","Serial":"1","Firmware":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, ok := parseKEBAReport1(b); ok && (r.Serial == "" || r.ID != "1") {
			t.Fatalf("accepted %q as %+v", b, r)
		}
	})
}
