// Package drivertest holds the test helpers every driver's tests share:
// readable dumps, polls that line up with a simulator's tick, and request
// counting. Modbus-specific fixtures are in drivers/modbusx/modbustest.
package drivertest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Dump renders v as JSON for failure messages (fmt's %+v when it is not
// JSON-able): pointers show their values.
func Dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// ConsistentPoll polls between two equal simulator snapshots, so that the
// reading and the snapshot describe the same simulator tick.
func ConsistentPoll[S any](t testing.TB, snapshot func() S, poll func(context.Context) (charger.State, error)) (charger.State, S) {
	t.Helper()
	for range 50 {
		before := snapshot()
		st, err := poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if after := snapshot(); reflect.DeepEqual(before, after) {
			return st, after
		}
	}
	t.Fatal("no quiet moment between simulator ticks")
	var zero S
	return charger.State{}, zero
}

// Delta is the requests made between two counts by endpoint (a
// simulator's Requests()): only those that changed.
func Delta(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			out[k] = n
		}
	}
	return out
}
