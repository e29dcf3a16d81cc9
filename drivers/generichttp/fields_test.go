package generichttp

import "testing"

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "0/false", true}, {"1/*/*", "1/true/0", true}, {"1/*/*", "1/true", false},
		{"3/true/*", "3/true/2", true}, {"3/true/*", "3/false/2", false}, {"*/3", "<no value>/3", true},
		{"?", "3", true}, {"?", "33", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{"**", "x", true}, {"0", "0", true}, {"0", "00", false}, {"", "", true}, {"[", "[", true},
		{"é?", "éx", true}, {"*x", "xxx", true}, {"a*", "b", false},
	} {
		if got := matches(c.p, c.s); got != c.want {
			t.Errorf("matches(%q, %q) = %t", c.p, c.s, got)
		}
	}
}
