package shelly

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/meter"
)

// FuzzParseEMStatus: any reply decodes to an error or a plausible
// reading with a power.
func FuzzParseEMStatus(f *testing.F) {
	s := NewSimulator(SimConfig{})
	em, data := s.status(time.Now())
	for _, v := range []any{em, data} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`{"total_act_power": 5, "errors": ["power_meter_failure"]}`))
	f.Add([]byte(`{"total_act_power": 5, "a_current": 1e308, "a_act_power": -1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, _, err := parseEMStatus(body)
		if err == nil {
			if r.Power == nil {
				t.Fatal("reading without power")
			}
			if err := meter.CheckReading(r); err != nil {
				t.Fatal(err)
			}
		}
		imp, exp, err := parseEMData(body)
		if err == nil {
			for _, v := range []*float64{imp, exp} {
				if v != nil && (*v < 0 || *v > meter.MaxEnergy) {
					t.Fatalf("counter %v", *v)
				}
			}
		}
		_, _ = reply(200, body)
	})
}

// FuzzParseChallenge: any WWW-Authenticate header parses or errs, and a
// parsed challenge signs a request.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Digest qop="auth", realm="shellypro3em-x", nonce="abc", algorithm=SHA-256`)
	f.Add(`Digest realm="a\"b", nonce=1, opaque="", qop="auth,auth-int"`)
	f.Add(`Digest ,,=,"`)
	f.Fuzz(func(t *testing.T, h string) {
		c, err := parseChallenge(h)
		if err != nil {
			return
		}
		if c.nonce == "" || (c.algorithm != "MD5" && c.algorithm != "SHA-256") {
			t.Fatalf("accepted %+v", c)
		}
		d := &digestAuth{password: "pw"}
		d.update(c)
		if d.header("GET", "/rpc/EM.GetStatus?id=0") == "" {
			t.Fatal("no header after a challenge")
		}
	})
}
