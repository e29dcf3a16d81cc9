package config

import (
	"net"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const examplePath = "../../config.example.yaml"

func TestExampleParses(t *testing.T) {
	cfg, err := Load(examplePath, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Chargers) != 1 || cfg.Chargers[0].Name != "garage" || cfg.Chargers[0].Driver != "goe" {
		t.Errorf("chargers = %+v", cfg.Chargers)
	}
}

// TestExampleDefaults uncomments every "# key: value" line of the example:
// the result must parse and hold exactly the defaults the lines claim.
func TestExampleDefaults(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^(\s*)# `).ReplaceAll(data, []byte("$1"))
	cfg, err := Parse(uncommented, "uncommented.yaml", testRegistry())
	if err != nil {
		t.Fatalf("%v\n%s", err, uncommented)
	}
	def := Default()
	if !reflect.DeepEqual(cfg.MQTT, def.MQTT) || cfg.HomeAssistant != def.HomeAssistant || cfg.Log != def.Log ||
		cfg.Site != def.Site || cfg.State != def.State || cfg.HTTP != def.HTTP || !reflect.DeepEqual(cfg.Discovery, def.Discovery) {
		t.Errorf("documented defaults differ:\n%+v\nwant\n%+v", cfg, def)
	}
	want := Charger{Name: "garage", Driver: "goe", Address: "192.0.2.20", MaxCurrent: DefaultMaxCurrent,
		Mode: DefaultChargerMode, Phases: DefaultChargerPhase, PollInterval: 2 * time.Second, Timeout: DefaultTimeout, Line: cfg.Chargers[0].Line}
	if len(cfg.Chargers) != 2 || !reflect.DeepEqual(cfg.Chargers[0], want) {
		t.Errorf("chargers = %+v, want first %+v", cfg.Chargers, want)
	}
}

// TestExampleDocumentsEveryKey checks that every key of Config appears in
// the example, set or commented out.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(t reflect.Type, path string)
	var keys []string
	walk = func(typ reflect.Type, path string) {
		fields, names, _ := fieldsOf(typ)
		for _, name := range append(names, extraKeys[typ]...) {
			keys = append(keys, join(path, name))
			if idx, ok := fields[name]; ok {
				ft := typ.FieldByIndex(idx).Type
				if ft.Kind() == reflect.Slice {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct && !isLeaf(ft) {
					walk(ft, join(path, name))
				}
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(keys) < 25 {
		t.Fatalf("only %d keys found", len(keys))
	}
	for _, k := range keys {
		name := k[strings.LastIndex(k, ".")+1:]
		if !regexp.MustCompile(`(?m)^[ ]*(#+[ ]+)?(- )?` + name + `:`).Match(data) {
			t.Errorf("%s is not in %s", k, examplePath)
		}
	}
}

// TestExampleStyle checks line length and that IPv4 addresses are
// documentation addresses (RFC 5737) or local.
func TestExampleStyle(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if len(line) > 80 {
			t.Errorf("line %d is longer than 80 characters", i+1)
		}
		if strings.Contains(line, "\t") {
			t.Errorf("line %d has a tab", i+1)
		}
	}
	allowed := []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "127.0.0.0/8", "0.0.0.0/32"}
	for _, s := range regexp.MustCompile(`\d+\.\d+\.\d+\.\d+`).FindAllString(string(data), -1) {
		ip, ok := net.ParseIP(s), false
		for _, a := range allowed {
			_, n, _ := net.ParseCIDR(a)
			ok = ok || n.Contains(ip)
		}
		if !ok {
			t.Errorf("%s is not a documentation address", s)
		}
	}
}
