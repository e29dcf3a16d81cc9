package discover

import "testing"

func TestTrackerObserve(t *testing.T) {
	ports := func(d string) int { return map[string]int{"goe": 80, "alfen": 502}[d] }
	goeAt := func(addr, serial string) Found {
		return Found{Address: addr, Driver: "goe", Serial: serial, FoundBy: ByProbe, Kind: KindCharger}
	}
	cases := []struct {
		name  string
		known []Known
		find  Found
		want  *Moved
	}{
		{"same address", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("10.0.0.5:80", "S"), nil},
		{"same address with port", []Known{{"g", "goe", "10.0.0.5:80", "S"}}, goeAt("10.0.0.5:80", "S"), nil},
		{"new address", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("10.0.0.7:80", "S"),
			&Moved{"g", "10.0.0.5", "10.0.0.7", ByProbe}},
		{"new address keeps the configured port", []Known{{"g", "goe", "10.0.0.5:8080", "S"}}, goeAt("10.0.0.7:8080", "S"),
			&Moved{"g", "10.0.0.5:8080", "10.0.0.7:8080", ByProbe}},
		{"odd port is written", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("10.0.0.7:8080", "S"),
			&Moved{"g", "10.0.0.5", "10.0.0.7:8080", ByProbe}},
		{"same host, other port", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("10.0.0.5:8080", "S"),
			&Moved{"g", "10.0.0.5", "10.0.0.5:8080", ByProbe}},
		{"ipv6", []Known{{"g", "goe", "[fd00::5]:80", "S"}}, goeAt("[fd00::7]:80", "S"),
			&Moved{"g", "[fd00::5]:80", "[fd00::7]:80", ByProbe}},
		{"modbus", []Known{{"a", "alfen", "10.0.0.5", "S"}}, Found{Address: "10.0.0.9:502", Driver: "alfen", Serial: "S", FoundBy: ByMDNS},
			&Moved{"a", "10.0.0.5", "10.0.0.9", ByMDNS}},
		{"host names follow by themselves", []Known{{"g", "goe", "garage.lan", "S"}}, goeAt("10.0.0.7:80", "S"), nil},
		{"other driver", []Known{{"g", "alfen", "10.0.0.5", "S"}}, goeAt("10.0.0.7:80", "S"), nil},
		{"other serial", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("10.0.0.7:80", "T"), nil},
		{"serial not known yet", []Known{{"g", "goe", "10.0.0.5", ""}}, goeAt("10.0.0.7:80", ""), nil},
		{"serial configured twice", []Known{{"g", "goe", "10.0.0.5", "S"}, {"h", "goe", "10.0.0.6", "S"}},
			goeAt("10.0.0.7:80", "S"), nil},
		{"unverified find", []Known{{"g", "goe", "10.0.0.5", "S"}},
			Found{Address: "10.0.0.7:80", Driver: "goe", Serial: "S", Note: "identity not read"}, nil},
		{"bad found address", []Known{{"g", "goe", "10.0.0.5", "S"}}, goeAt("garbage", "S"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := NewTracker(c.known, ports)
			m, ok := tr.Observe(c.find)
			switch {
			case c.want == nil && ok:
				t.Fatalf("unexpected move %+v", m)
			case c.want != nil && (!ok || m != *c.want):
				t.Fatalf("got %+v (%t), want %+v", m, ok, *c.want)
			case c.want != nil:
				if k, _ := tr.Known(m.Name); k.Address != m.To {
					t.Fatalf("tracker kept %q", k.Address)
				}
				if m2, again := tr.Observe(c.find); again {
					t.Fatalf("reported twice: %+v", m2)
				}
			}
		})
	}
}

func TestTrackerLearnsSerial(t *testing.T) {
	tr := NewTracker([]Known{{Name: "g", Driver: "goe", Address: "10.0.0.5"}}, nil)
	f := Found{Address: "10.0.0.7:80", Driver: "goe", Serial: "S", FoundBy: ByMDNS}
	if _, ok := tr.Observe(f); ok {
		t.Fatal("moved before the serial was known")
	}
	tr.Update(Known{Name: "g", Driver: "goe", Address: "10.0.0.5", Serial: "S"})
	// nil defaultPort: the charger.Default registry says go-e is on 80.
	if m, ok := tr.Observe(f); !ok || m.To != "10.0.0.7" {
		t.Fatalf("got %+v, %t", m, ok)
	}
}
