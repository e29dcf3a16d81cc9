package discover

import (
	"encoding/binary"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

func FuzzParseTXT(f *testing.F) {
	f.Add("type=openevse_wifi_v1\x00version=4.1.0\x00id=8c4b14")
	f.Add("gen=2\x00GEN=3\x00=x\x00flag\x00k=\x1b[31mred")
	f.Add(strings.Repeat("k=v\x00", 100))
	f.Fuzz(func(t *testing.T, in string) {
		m := parseTXT(strings.Split(in, "\x00"))
		if len(m) > maxTXT {
			t.Fatalf("%d keys", len(m))
		}
		for k, v := range m {
			if k == "" || k != strings.ToLower(k) || strings.Contains(k, "=") || !printable(k) {
				t.Fatalf("bad key %q", k)
			}
			if len(v) > maxField+utf8.UTFMax || !printable(v) {
				t.Fatalf("bad value %q", v)
			}
		}
		_ = hintDriver(in, in, m)
	})
}

func FuzzIdentityReplies(f *testing.F) {
	f.Add([]byte(`{"sse":"012345","typ":"go-eCharger","fwv":"059.4"}`))
	f.Add([]byte(`{"firmware":"D7.1.2","version":"4.1.0","buildenv":"x","macaddress":"AA"}`))
	f.Add([]byte(`{"id":"shellypro3em-c8","mac":"C8F0","model":"SPEM-003CEBEU","gen":2,"ver":"1.0.3","app":"Pro3EM"}`))
	f.Add([]byte(`{"type":"SHEM-3","mac":"C45B","fw":"2019"}`))
	f.Add([]byte(`{"sse":1e999,"typ":null,"fwv":["x"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, parse := range map[string]func([]byte) (chargerIdentity, error){
			"goe": parseGoe, "openevse": parseOpenEVSEConfig, "shelly": parseShelly,
		} {
			id, err := parse(body)
			if err != nil {
				continue
			}
			id = cleanIdentity(id)
			for _, s := range []string{id.Brand, id.Model, id.Serial, id.Firmware} {
				if !printable(s) || len(s) > maxField+utf8.UTFMax {
					t.Fatalf("%s: unclean %q", name, s)
				}
			}
			if name != "openevse" && id.Serial == "" {
				t.Fatalf("%s: identified without a serial: %+v", name, id)
			}
		}
	})
}

// FuzzModbusReply feeds arbitrary bytes to the Modbus reader as the reply
// to an identification read.
func FuzzModbusReply(f *testing.F) {
	good := frame(make([]byte, 12), alfenUnit, identityRegs("Alfen NV", "S1"))
	binary.BigEndian.PutUint16(good[0:], 1)
	f.Add(good)
	f.Add([]byte{0, 1, 0, 0, 0, 3, 200, 0x83, 2})
	f.Add([]byte{0, 1, 0, 0, 0xff, 0xff, 200, 3})
	f.Fuzz(func(t *testing.T, reply []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			defer server.Close()
			_, _ = server.Read(make([]byte, 12))
			_ = server.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = server.Write(reply)
		}()
		m := &mbConn{c: client, timeout: 200 * time.Millisecond}
		regs, err := m.ReadHolding(t.Context(), alfenUnit, alfenIdentAddr, alfenIdentLen)
		if err != nil {
			return
		}
		if len(regs) != alfenIdentLen {
			t.Fatalf("%d registers", len(regs))
		}
		if id, err := parseAlfen(regs); err == nil && id.Serial == "" {
			t.Fatal("Alfen without serial")
		}
	})
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)

// FuzzConfigSnippet checks that whatever devices say, the snippet is YAML
// holding exactly the verified chargers with drivers, with valid names
// and the (cleaned) addresses, and no injected keys.
func FuzzConfigSnippet(f *testing.F) {
	f.Add("goe", "012345", "10.0.0.1:80", "go-e", "x", "")
	f.Add("goe", "a\n  - name: evil\n", "10.0.0.1:80\"\nmqtt: {}", "b#c", "\x1b[2J", "")
	f.Add("alfen", "", "[fd00::1]:502", "", "", "note\nchargers: []")
	f.Fuzz(func(t *testing.T, driver, serial, addr, brand, model, note string) {
		finds := []Found{
			{Driver: driver, Serial: serial, Address: addr, Brand: brand, Model: model, Kind: KindCharger, Note: note},
			{Driver: "goe", Serial: "fixed", Address: "10.0.0.9:80", Kind: KindCharger},
		}
		s := ConfigSnippet(finds)
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatalf("snippet is not YAML: %v\n%s", err, s)
		}
		if len(doc) != 1 {
			t.Fatalf("keys %v injected:\n%s", doc, s)
		}
		var cfg struct {
			Chargers []map[string]string `yaml:"chargers"`
		}
		if err := yaml.Unmarshal([]byte(s), &cfg); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		want := 1
		if note == "" && (driver == "goe" || driver == "alfen") {
			want = 2
		}
		if len(cfg.Chargers) != want {
			t.Fatalf("%d chargers, want %d:\n%s", len(cfg.Chargers), want, s)
		}
		for _, c := range cfg.Chargers {
			if len(c) != 3 || !nameRE.MatchString(c["name"]) {
				t.Fatalf("bad entry %v:\n%s", c, s)
			}
		}
		if want == 2 && cfg.Chargers[0]["driver"] != driver {
			t.Fatalf("driver %q became %q", driver, cfg.Chargers[0]["driver"])
		}
	})
}
