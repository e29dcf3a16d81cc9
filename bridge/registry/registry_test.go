package registry

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	var r Registry[int]
	r.Add("thing", "b", 2)
	r.Add("thing", "a", 1)
	if v, ok := r.Lookup("a"); !ok || v != 1 {
		t.Fatalf("lookup a = %v %v", v, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Fatal("found c")
	}
	if !slices.Equal(r.Names(), []string{"a", "b"}) || !slices.Equal(r.Values(), []int{1, 2}) {
		t.Fatalf("names %v values %v", r.Names(), r.Values())
	}
	for _, name := range []string{"a", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", name)
				}
			}()
			r.Add("thing", name, 3)
		}()
	}
}
