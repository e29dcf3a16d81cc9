// Package registry is the one name → value registry behind the charger and
// meter driver registries: adding a duplicate or unnamed entry is a
// programming error found at start, so Add panics.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps names to values; the zero value is ready to use.
type Registry[T any] struct {
	mu    sync.RWMutex
	items map[string]T
}

// Add registers v as name; kind names what is registered in the panic.
func (r *Registry[T]) Add(kind, name string, v T) {
	if name == "" {
		panic(kind + ": registered without a name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.items == nil {
		r.items = map[string]T{}
	}
	if _, dup := r.items[name]; dup {
		panic(fmt.Sprintf("%s: %q registered twice", kind, name))
	}
	r.items[name] = v
}

// Lookup returns the value registered as name.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.items[name]
	return v, ok
}

// Names returns the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Values returns the registered values, sorted by name.
func (r *Registry[T]) Values() []T {
	names := r.Names()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]T, 0, len(names))
	for _, n := range names {
		out = append(out, r.items[n])
	}
	return out
}
