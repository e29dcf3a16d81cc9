package all

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
)

// registers matches a registration call in a driver package's init.
var registers = regexp.MustCompile(`\b(charger|meter)\.(Register|RegisterSimulator|RegisterService)\(`)

// TestEveryDriverPackageLinked: a driver package that registers itself
// but is not imported here is invisible to `evbridge run`, although its
// own tests pass. Read the sibling packages and all.go, and compare.
func TestEveryDriverPackageLinked(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "all.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		linked[filepath.Base(p)] = true
	}
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	registering := 0
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "all" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", d.Name(), "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if registers.Match(src) {
				registering++
				if !linked[d.Name()] {
					t.Errorf("drivers/%s registers itself (%s) but drivers/all does not import it", d.Name(), filepath.Base(file))
				}
				break
			}
		}
	}
	if registering < 15 {
		t.Fatalf("only %d registering driver packages found: is the test reading the right folder?", registering)
	}
}

// TestRegisteredNames pins the names configs use, so that a rename or a
// lost import shows here rather than as "unknown driver" at a user's.
func TestRegisteredNames(t *testing.T) {
	for _, name := range []string{"abl_em4", "abl_emh", "alfen", "generic_http", "generic_modbus", "goe", "goe_v1", "heidelberg",
		"keba_udp", "keba_modbus", "mennekes", "ocpp", "openevse", "phoenix", "sma_evcharger", "tesla_wc3", "vestel", "wallbox_quasar", "webasto_next"} {
		if _, ok := charger.Default.Lookup(name); !ok {
			t.Errorf("charger driver %q not registered", name)
		}
	}
	for _, name := range []string{"http_json", "mqtt_topic", "shelly_pro3em", "sunspec"} {
		if _, ok := meter.Default.Lookup(name); !ok {
			t.Errorf("meter driver %q not registered", name)
		}
	}
}
