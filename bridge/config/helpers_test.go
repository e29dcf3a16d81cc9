package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// testOptions stands in for a driver's options struct.
type testOptions struct {
	Serial string `yaml:"serial"`
	UnitID int    `yaml:"unit_id"`
	Token  string `yaml:"token"`
	Meter  struct {
		Phases int `yaml:"phases"`
	} `yaml:"meter"`
}

func (o *testOptions) Validate() error {
	if o.UnitID < 1 || o.UnitID > 247 {
		return errors.New("unit_id must be between 1 and 247")
	}
	return nil
}

// testRegistry holds a stand-in "goe" driver without options (the real
// one is written elsewhere) and "modbusdrv", which has options.
func testRegistry() *charger.Registry {
	newFn := func(charger.Settings, any, *slog.Logger) (charger.Charger, error) { return nil, nil }
	r := &charger.Registry{}
	r.Add(charger.Driver{Name: "goe", DefaultPollInterval: 2 * time.Second, DefaultPort: 80, New: newFn})
	r.Add(charger.Driver{Name: "modbusdrv", DefaultPollInterval: time.Second, DefaultPort: 502, New: newFn,
		NewOptions: func() any { return &testOptions{UnitID: 1} }})
	return r
}

// doc joins lines into a YAML file, so tests can count lines.
func doc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// wantErr is one expected error: its line, key path and part of its message.
type wantErr struct {
	line int
	path string
	msg  string
}

// checkErrors asserts that err is an Errors matching want, in order.
func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T), want Errors", err, err)
	}
	ok := len(errs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		e, w := errs[i], want[i]
		ok = e.Line == w.line && e.Path == w.path && strings.Contains(e.Msg, w.msg)
	}
	if !ok {
		t.Errorf("got errors:\n%v\nwant:", err)
		for _, w := range want {
			t.Errorf("  line %d: %s: ...%s...", w.line, w.path, w.msg)
		}
	}
}
