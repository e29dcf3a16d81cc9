package discover

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// Fingerprints against simulators and misbehaving servers on loopback.

func quick() Options { return Options{ConnTimeout: 300 * time.Millisecond} }

func TestIdentifyGoeSimulator(t *testing.T) {
	sim := startGoe(t, nil, "", "127.0.0.1:0", "4711", false)
	f, err := Identify(t.Context(), "goe", sim.Addr(), quick())
	if err != nil {
		t.Fatal(err)
	}
	want := Found{Address: sim.Addr(), Driver: "goe", Brand: "go-e", Model: "go-eCharger",
		Serial: "4711", Firmware: "060.1", Kind: KindCharger, FoundBy: ByStatic}
	if f != want {
		t.Fatalf("identify go-e:\n got %+v\nwant %+v", f, want)
	}
	// Without a driver, the fingerprinters of the given port are tried.
	o := quick()
	o.Registry = testRegistry(portOf(t, sim.Addr()), 1502)
	if f, err = Identify(t.Context(), "", sim.Addr(), o); err != nil || f.Serial != "4711" {
		t.Fatalf("identify without driver: %+v, %v", f, err)
	}
}

func TestIdentifyAlfenSimulator(t *testing.T) {
	sim := startAlfen(t, nil, "", "127.0.0.1:0", "ACE0012345")
	f, err := Identify(t.Context(), "alfen", sim.Addr(), quick())
	if err != nil {
		t.Fatal(err)
	}
	want := Found{Address: sim.Addr(), Driver: "alfen", Brand: "Alfen", Model: "NG910",
		Serial: "ACE0012345", Firmware: "6.3.0-4203", Kind: KindCharger, FoundBy: ByStatic}
	if f != want {
		t.Fatalf("identify Alfen:\n got %+v\nwant %+v", f, want)
	}
}

func TestIdentifyHTTPDevicesThatAreNotChargers(t *testing.T) {
	replies := map[string]func(w http.ResponseWriter){
		"html page": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>printer</body></html>")
		},
		"json without serial":  func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"typ":"go-eCharger","fwv":"1"}`) },
		"serial of wrong type": func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"sse":{"a":1},"typ":"x"}`) },
		"truncated json":       func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"sse":"12`) },
		"json array":           func(w http.ResponseWriter) { _, _ = io.WriteString(w, `["sse","12"]`) },
		"huge body": func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"sse":"1","pad":"`+strings.Repeat("x", 2*maxBody)+`"}`)
		},
		"redirect": func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://192.0.2.1/api/status")
			w.WriteHeader(http.StatusFound)
		},
	}
	for name, reply := range replies {
		t.Run(name, func(t *testing.T) {
			addr := serveHTTP(t, nil, "", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reply(w) }))
			f, err := Identify(t.Context(), "goe", addr, quick())
			if !errors.Is(err, ErrNotIdentified) {
				t.Fatalf("want ErrNotIdentified, got %+v, %v", f, err)
			}
		})
	}
}

func TestIdentifyGoeSimulatorFaults(t *testing.T) {
	for _, fault := range []goe.Fault{goe.FaultGarbage, goe.FaultHTML, goe.FaultEmpty, goe.FaultHang} {
		sim := startGoe(t, nil, "", "127.0.0.1:0", "1", false)
		sim.SetFault(fault)
		start := time.Now()
		_, err := Identify(t.Context(), "goe", sim.Addr(), quick())
		if err == nil {
			t.Errorf("fault %d: identified a misbehaving device", fault)
		}
		// A generous bound: the point is that a bad device cannot hang
		// discovery, not how fast it gives up on a loaded machine.
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("fault %d: took %s", fault, d)
		}
	}
}

// modbusServer answers every request through reply, which gets the
// request frame and returns the bytes to send (nil: close).
func modbusServer(t *testing.T, reply func(req []byte) []byte) string {
	return serveTCP(t, "127.0.0.1:0", func(c net.Conn) {
		for {
			req := make([]byte, 12)
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			out := reply(req)
			if out == nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

// frame builds a Modbus TCP reply to req with pdu.
func frame(req []byte, unit byte, pdu []byte) []byte {
	out := make([]byte, 7, 7+len(pdu))
	copy(out, req[:4])
	binary.BigEndian.PutUint16(out[4:], uint16(len(pdu)+1))
	out[6] = unit
	return append(out, pdu...)
}

// identityRegs is an identification block with manufacturer maker.
func identityRegs(maker, serial string) []byte {
	regs := make([]uint16, 0, alfenIdentLen)
	regs = append(regs, modbusx.EncodeString("ALF_1000", 17, modbusx.HighByteFirst)...)
	regs = append(regs, modbusx.EncodeString(maker, 5, modbusx.HighByteFirst)...)
	regs = append(regs, 1)
	regs = append(regs, modbusx.EncodeString("4.10.0", 17, modbusx.HighByteFirst)...)
	regs = append(regs, modbusx.EncodeString("NG910", 17, modbusx.HighByteFirst)...)
	regs = append(regs, modbusx.EncodeString(serial, 11, modbusx.HighByteFirst)...)
	pdu := []byte{3, byte(2 * len(regs))}
	for _, r := range regs {
		pdu = binary.BigEndian.AppendUint16(pdu, r)
	}
	return pdu
}

func TestIdentifyModbus(t *testing.T) {
	cases := map[string]struct {
		reply  func(req []byte) []byte
		serial string // "" = must not identify
	}{
		"alfen":       {reply: func(r []byte) []byte { return frame(r, r[6], identityRegs("Alfen NV", "S-9")) }, serial: "S-9"},
		"other maker": {reply: func(r []byte) []byte { return frame(r, r[6], identityRegs("ACME", "S-9")) }},
		"exception":   {reply: func(r []byte) []byte { return frame(r, r[6], []byte{0x83, 2}) }},
		"wrong unit":  {reply: func(r []byte) []byte { return frame(r, 1, identityRegs("Alfen NV", "S-9")) }},
		"wrong transaction": {reply: func(r []byte) []byte {
			out := frame(r, r[6], identityRegs("Alfen NV", "S-9"))
			out[1]++
			return out
		}},
		"short data": {reply: func(r []byte) []byte { return frame(r, r[6], []byte{3, 4, 0, 1, 0, 2}) }},
		"bad length": {reply: func(r []byte) []byte {
			out := frame(r, r[6], []byte{3, 2, 0, 1})
			binary.BigEndian.PutUint16(out[4:], 60000)
			return out
		}},
		"garbage": {reply: func([]byte) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") }},
		"close":   {reply: func([]byte) []byte { return nil }},
		"silence": {reply: func([]byte) []byte { time.Sleep(2 * time.Second); return nil }},
		"trickle": {reply: func(r []byte) []byte {
			time.Sleep(200 * time.Millisecond)
			return frame(r, r[6], []byte{3})[:3]
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			addr := modbusServer(t, c.reply)
			start := time.Now()
			f, err := Identify(t.Context(), "alfen", addr, quick())
			// Bounded, not fast: a bad device must not hang discovery.
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %s", d)
			}
			switch {
			case c.serial == "" && err == nil:
				t.Fatalf("identified %+v", f)
			case c.serial != "" && (err != nil || f.Serial != c.serial):
				t.Fatalf("want serial %q, got %+v, %v", c.serial, f, err)
			}
		})
	}
}

func TestIdentifyUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if _, err := Identify(t.Context(), "goe", addr, quick()); !errors.Is(err, ErrNotIdentified) || !isConnectError(err) {
		t.Fatalf("want a connect error, got %v", err)
	}
	if _, err := Identify(t.Context(), "nosuch", addr, quick()); err == nil {
		t.Fatal("identified with an unknown driver")
	}
	for _, bad := range []string{"", "host:0", "host:99999", "a b", "[::1"} {
		if _, err := Identify(t.Context(), "goe", bad, quick()); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestFingerprinterPanicIsContained(t *testing.T) {
	addr := serveHTTP(t, nil, "", "127.0.0.1:0", http.NotFoundHandler())
	o := quick()
	o.Registry = NewRegistry(Fingerprinter{Driver: "bad", Port: portOf(t, addr),
		HTTP: func(context.Context, GetFunc) (c chargerIdentity, err error) { panic("boom") }})
	if _, err := Identify(t.Context(), "bad", addr, o); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("want the panic as an error, got %v", err)
	}
}

func TestRegistryRejectsBadFingerprinters(t *testing.T) {
	ok := func(context.Context, GetFunc) (chargerIdentity, error) { return chargerIdentity{}, nil }
	for name, f := range map[string]Fingerprinter{
		"no driver": {Port: 80, HTTP: ok},
		"no port":   {Driver: "x", HTTP: ok},
		"no func":   {Driver: "x", Port: 80},
		"both": {Driver: "x", Port: 80, HTTP: ok,
			Modbus: func(context.Context, RegisterReader) (chargerIdentity, error) { return chargerIdentity{}, nil }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: accepted", name)
				}
			}()
			NewRegistry(f)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate accepted")
			}
		}()
		NewRegistry(Fingerprinter{Driver: "x", Port: 80, HTTP: ok}, Fingerprinter{Driver: "x", Port: 81, HTTP: ok})
	}()
}

type chargerIdentity = charger.Identity
