package discover

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/config"
)

var sampleFinds = []Found{
	{Address: "192.168.1.20:80", Driver: "goe", Brand: "go-e", Model: "go-eCharger", Serial: "012345",
		Firmware: "059.4", Kind: KindCharger, FoundBy: ByMDNS, Service: "go-eCharger-012345._go-e_go-eCharger._tcp"},
	{Address: "192.168.1.21:502", Driver: "alfen", Brand: "Alfen", Model: "NG910", Serial: "ACE0012345",
		Firmware: "6.3.0", Kind: KindCharger, FoundBy: ByProbe},
	{Address: "192.168.1.22:8080", Driver: "goe", Brand: "go-e", Model: "go-eCharger", Serial: "012345",
		Kind: KindCharger, FoundBy: ByProbe}, // same serial again: the name must differ
	{Address: "192.168.1.23:80", Driver: "openevse", Brand: "OpenEVSE", Serial: "AA:BB", Kind: KindCharger, FoundBy: ByMDNS},
	{Address: "192.168.1.24:80", Driver: "goe", Brand: "go-e", Kind: KindCharger, FoundBy: ByMDNS,
		Note: "identity not read: http 404"},
	{Address: "192.168.1.26:80", Driver: "quasar", Brand: "Wallbox", Serial: "Q1", Kind: KindCharger, FoundBy: ByMDNS},
	{Address: "192.168.1.25:80", Driver: "shelly", Brand: "Shelly", Model: "Pro3EM", Serial: "C8F0", Kind: KindMeter, FoundBy: ByMDNS},
}

func TestConfigSnippetIsAValidConfig(t *testing.T) {
	s := ConfigSnippet(sampleFinds)
	cfg, err := config.Parse([]byte(s), "", nil)
	if err != nil {
		t.Fatalf("snippet does not load:\n%s\n%v", s, err)
	}
	type entry struct{ name, driver, addr string }
	var got []entry
	for _, c := range cfg.Chargers {
		got = append(got, entry{c.Name, c.Driver, c.Address})
	}
	want := []entry{
		{"goe_012345", "goe", "192.168.1.20"},
		{"alfen_ace0012345", "alfen", "192.168.1.21"},
		{"goe_012345_2", "goe", "192.168.1.22:8080"},
		// This test binary links the openevse driver (for the simulator's
		// mDNS test), so an OpenEVSE find becomes a charger entry.
		{"openevse_aa_bb", "openevse", "192.168.1.23"},
	}
	if len(got) != len(want) {
		t.Fatalf("chargers %+v, want %+v\n%s", got, want, s)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("charger %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, w := range []string{"# ^ no quasar driver in this build", "identity not read: http 404", "# meter at 192.168.1.25:80"} {
		if !strings.Contains(s, w) {
			t.Errorf("snippet lacks %q:\n%s", w, s)
		}
	}
	if s := ConfigSnippet(nil); !strings.Contains(s, "no chargers found") {
		t.Errorf("empty snippet: %q", s)
	}
}

func TestConfigName(t *testing.T) {
	for _, c := range []struct {
		f    Found
		want string
	}{
		{Found{Driver: "goe", Serial: "012345"}, "goe_012345"},
		{Found{Driver: "goe", Serial: "ABC-12/x y"}, "goe_abc_12_x_y"},
		{Found{Driver: "goe", Address: "10.0.0.5:80"}, "goe_10_0_0_5"},
		{Found{Driver: "", Serial: "__"}, "charger"},
		{Found{Driver: "goe", Serial: strings.Repeat("9", 100)}, "goe_" + strings.Repeat("9", 56)},
	} {
		if got := configName(c.f); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}

func TestWriteTableAndJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleFinds[:2]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ADDRESS") || strings.Contains(lines[0], "NOTE") ||
		!strings.Contains(lines[1], "012345") || !strings.Contains(lines[2], "alfen") {
		t.Fatalf("table:\n%s", b.String())
	}
	b.Reset()
	hostile := []Found{{Address: "10.0.0.1:80", Brand: "evil\x1b[2J\nbrand", Note: "x"}}
	_ = WriteTable(&b, hostile)
	if strings.ContainsAny(b.String(), "\x1b") || strings.Count(b.String(), "\n") != 2 {
		t.Fatalf("device text reached the terminal raw: %q", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Fatalf("empty JSON: %q %v", b.String(), err)
	}
	b.Reset()
	_ = WriteJSON(&b, sampleFinds)
	var back []Found
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != len(sampleFinds) || back[0] != sampleFinds[0] {
		t.Fatalf("JSON round trip: %v\n%s", err, b.String())
	}
}

func TestMerge(t *testing.T) {
	mdns := []Found{{Address: "10.0.0.5:80", Driver: "goe", Serial: "S", FoundBy: ByMDNS},
		{Address: "10.0.0.6:80", Driver: "goe", FoundBy: ByMDNS, Note: "identity not read"}}
	probe := []Found{{Address: "10.0.0.5:80", Driver: "goe", Serial: "S", FoundBy: ByProbe},
		{Address: "10.0.0.6:80", Driver: "goe", FoundBy: ByProbe, Serial: "T"},
		{Address: "10.0.0.9:502", Driver: "alfen", Serial: "S", FoundBy: ByProbe}}
	got := Merge(mdns, probe)
	if len(got) != 4 || got[0].FoundBy != ByMDNS || got[2].Serial != "T" || got[3].Driver != "alfen" {
		t.Fatalf("merge: %s", dump(got))
	}
}
