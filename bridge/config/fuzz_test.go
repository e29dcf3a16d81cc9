package config

import (
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"mqtt:\n  broker: tcp://192.0.2.10:1883\n  keep_alive: 30\n",
		"chargers:\n  - name: wallbox\n    driver: modbusdrv\n    address: \"[2001:db8::1]:502\"\n    options: {unit_id: 3, meter: {phases: 1}}\n",
		"chargers:\n  - &a {name: a, driver: goe, address: 192.0.2.20}\n  - <<: *a\n    name: b\n",
		"log: &x\n  <<: *x\n",
		"mqtt:\n  password: ${EVB_FUZZ_UNSET:-x$$y}\n  client_id: ${file:/nonexistent}\n",
		"a: [1, 2\n",
		"- 1\n",
		"x: 1\n---\ny: 2\n",
	} {
		f.Add([]byte(s))
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml", reg)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		if err != nil {
			_ = err.Error()
			return
		}
		// Whatever the input, an accepted configuration keeps the safety
		// bounds the rest of evbridge relies on.
		_ = cfg.Redacted()
		seen := map[string]bool{}
		for i := range cfg.Chargers {
			c := &cfg.Chargers[i]
			if !nameRE.MatchString(c.Name) || seen[c.Name] {
				t.Fatalf("accepted charger name %q", c.Name)
			}
			seen[c.Name] = true
			if !(c.MaxCurrent >= MinCurrent && c.MaxCurrent <= MaxCurrentLimit) || c.Timeout < MinTimeout ||
				c.Timeout > c.PollInterval || c.PollInterval < MinPollInterval || c.PollInterval > MaxPollInterval {
				t.Fatalf("accepted charger %+v", c)
			}
			if _, ok := reg.Lookup(c.Driver); !ok {
				t.Fatalf("accepted driver %q", c.Driver)
			}
			_ = c.HostPort(80)
		}
	})
}
