package config

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

type testServiceOptions struct {
	Listen string `yaml:"listen"`
}

func init() {
	charger.RegisterService(charger.Service{Name: "testsvc", NewOptions: func() any { return &testServiceOptions{Listen: ":1"} },
		Start: func(context.Context, any, charger.ServiceHost, *slog.Logger) (func(), error) { return func() {}, nil }})
}

// A driver service's top-level block (like ocpp:) is decoded strictly into
// the service's options; without a block the service has no entry.
func TestServiceBlocks(t *testing.T) {
	cfg, err := Parse(doc("testsvc:", "  listen: 127.0.0.1:9"), "evbridge.yaml", testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := cfg.Services["testsvc"].(*testServiceOptions); !ok || o.Listen != "127.0.0.1:9" {
		t.Fatalf("services = %#v", cfg.Services)
	}
	cfg, err = Parse(doc("log:", "  level: info"), "evbridge.yaml", testRegistry())
	if err != nil || cfg.Services["testsvc"] != nil {
		t.Fatalf("service without a block: %#v, %v", cfg.Services, err)
	}
	_, err = Parse(doc("testsvc:", "  lisen: x"), "evbridge.yaml", testRegistry())
	if err == nil || !strings.Contains(err.Error(), `evbridge.yaml:2:3: testsvc.lisen: unknown key "lisen"; did you mean listen?`) {
		t.Fatalf("got %v", err)
	}
}
