package generichttp

import "testing"

// FuzzFields runs the shipped goe definition over arbitrary replies: it
// must never panic, and what it accepts must be finite.
func FuzzFields(f *testing.F) {
	o, err := Builtin("goe")
	if err != nil {
		f.Fatal(err)
	}
	p, err := o.program()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{replyCharging, "{}", "[]", "null", `{"car":"x"}`, `{"car":2,"alw":1,"frc":{},"nrg":[1e999]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeJSON(body)
		if err != nil {
			return
		}
		st, _, err := p.state([]any{d})
		if err != nil {
			return
		}
		for _, v := range append(append([]float64{}, st.Currents...), st.Voltages...) {
			if v != v || v > 1e308 || v < -1e308 {
				t.Fatalf("non-finite value in %+v", st)
			}
		}
		if st.Phases != nil && *st.Phases != 1 && *st.Phases != 3 {
			t.Fatalf("phases %d", *st.Phases)
		}
	})
}

// decoded is a reply as the driver decodes it.
func decoded(t testing.TB, s string) any {
	t.Helper()
	d, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
