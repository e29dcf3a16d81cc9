package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/supervisor"
	_ "github.com/evbridge/evbridge/drivers/all" // the add-on's drivers
)

var addonDir = filepath.Join(root, "ha", "addon")

func init() {
	meter.Register(meter.Driver{Name: "deploytest_meter",
		New: func(meter.Settings, any, *slog.Logger) (meter.Meter, error) { return nil, nil }})
}

func loadYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func addonConfig(t *testing.T) map[string]any {
	return loadYAML(t, filepath.Join(addonDir, "config.yaml"))
}

func TestAddonConfigFollowsSupervisorRules(t *testing.T) {
	c := addonConfig(t)
	for _, err := range validateAddon(c) {
		t.Error(err)
	}
	if !slices.Equal(list(c["arch"]), []any{"aarch64", "amd64"}) {
		t.Errorf("arch %v: want aarch64 and amd64", c["arch"])
	}
	if !slices.Contains(list(c["services"]), any("mqtt:need")) {
		t.Errorf("services %v: want mqtt:need", c["services"])
	}
	if c["ingress"] != true || fmt.Sprint(":", c["ingress_port"]) != supervisor.IngressListen {
		t.Errorf("ingress %v on %v: evbridge listens on %s in add-on mode", c["ingress"], c["ingress_port"], supervisor.IngressListen)
	}
	if c["host_network"] != true || c["image"] != "ghcr.io/evbridge/evbridge-addon" {
		t.Errorf("host_network %v, image %v", c["host_network"], c["image"])
	}
	// The folder evbridge reads evbridge.yaml from is the one mapped:
	// addon_config lands at /config unless a path is given.
	mapped := ""
	for _, m := range list(c["map"]) {
		if e, ok := m.(map[string]any); ok && e["type"] == "addon_config" {
			mapped = supervisor.DefaultConfigDir
			if p, ok := e["path"].(string); ok {
				mapped = p
			}
		}
	}
	if mapped != supervisor.DefaultConfigDir {
		t.Errorf("addon_config mapped at %q; evbridge reads %s", mapped, supervisor.Layout{}.ConfigPath())
	}
	changelog, _ := os.ReadFile(filepath.Join(addonDir, "CHANGELOG.md"))
	if !bytes.Contains(changelog, []byte(fmt.Sprintf("## [%s]", c["version"]))) {
		t.Errorf("CHANGELOG.md has no entry for version %v", c["version"])
	}
}

// The validator finds what the Supervisor would refuse.
func TestSupervisorRulesReject(t *testing.T) {
	cases := []struct {
		change func(map[string]any)
		want   string
	}{
		{func(c map[string]any) { c["slug"] = "ev bridge" }, "slug"},
		{func(c map[string]any) { c["version"] = 1.0 }, "version"},
		{func(c map[string]any) { c["arch"] = []any{"amd64", "armv7"} }, "armv7 is deprecated"},
		{func(c map[string]any) { c["services"] = []any{"mqtt:required"} }, "services"},
		{func(c map[string]any) { c["image"] = "ghcr.io/evbridge/evbridge-addon:1.0" }, "without tag"},
		{func(c map[string]any) { c["image"] = "GHCR.io/Evbridge/x" }, "lowercase"},
		{func(c map[string]any) { c["watchdog"] = "http://localhost:8099" }, "watchdog"},
		{func(c map[string]any) { c["webui"] = "http://[HOST]:8099/" }, "webui"},
		{func(c map[string]any) { c["ingress_port"] = 70000 }, "ingress_port"},
		{func(c map[string]any) { c["ports"] = map[string]any{"8080/sctp": 8080} }, "ports key"},
		{func(c map[string]any) { c["startup"] = "later" }, "startup"},
		{func(c map[string]any) { c["ingres"] = true }, `unknown key "ingres"`},
		{func(c map[string]any) { c["map"] = []any{"config:rw"} }, "replaced by homeassistant_config"},
		{func(c map[string]any) { c["map"] = []any{map[string]any{"type": "addon_cfg"}} }, "map type addon_cfg"},
		{func(c map[string]any) { c["map"] = []any{map[string]any{"type": "addon_config", "path": "cfg"}} }, "absolute path"},
		{func(c map[string]any) { c["schema"].(map[string]any)["log_level"] = "string" }, "not a schema type"},
		{func(c map[string]any) { c["schema"].(map[string]any)["x"] = []any{[]any{"str"}} }, "another list"},
		{func(c map[string]any) { c["schema"].(map[string]any)["x"] = "match([)" }, "schema x"},
		{func(c map[string]any) {
			c["schema"].(map[string]any)["x"] = map[string]any{"a": map[string]any{"b": map[string]any{"c": "str"}}}
		}, "nested more than 2"},
		{func(c map[string]any) { c["options"].(map[string]any)["log_level"] = "loud" }, "option log_level"},
		{func(c map[string]any) { c["options"].(map[string]any)["colour"] = "red" }, "not in the schema"},
		{func(c map[string]any) { delete(c["options"].(map[string]any), "discovery") }, "missing option discovery"},
		{func(c map[string]any) {
			c["options"].(map[string]any)["chargers"] = []any{map[string]any{"name": "a", "driver": "goe", "address": "x", "max_current": 90}}
		}, "out of range"},
		{func(c map[string]any) {
			c["options"].(map[string]any)["chargers"] = []any{map[string]any{"name": "a", "driver": "goe"}}
		}, "missing option address in chargers"},
	}
	for _, tc := range cases {
		c := addonConfig(t)
		tc.change(c)
		errs := fmt.Sprint(validateAddon(c))
		if !strings.Contains(errs, tc.want) {
			t.Errorf("want an error containing %q, got %s", tc.want, errs)
		}
	}
}

// fullOptions sets every option of the schema, so that the whole schema
// is checked against evbridge's options and config rules.
const fullOptions = `
log_level: info
chargers:
  - {name: garage, driver: goe, address: 192.0.2.20, max_current: 16, poll_interval: 2s, mode: now, priority: 1, phases: 3}
meters:
  - {name: grid, driver: deploytest_meter, address: 192.0.2.30, invert: false, scale: 1}
  - {name: pv, driver: deploytest_meter}
  - {name: battery, driver: deploytest_meter}
discovery: {mdns: true, subnets: [192.0.2.0/24], found: pending, interval: 5m}
site: {grid_meter: grid, pv_meter: pv, battery_meter: battery, phase_limit: 25, safe_current: 6, residual_power: 100, battery_priority_soc: 20}
`

// mapOptions checks options against the schema, then runs them through
// add-on mode's mapping and the config rules, as evbridge does at start.
func mapOptions(t *testing.T, schema map[string]any, options map[string]any) error {
	t.Helper()
	for _, err := range validateOptions(schema, options) {
		t.Errorf("options %v: %v", options, err)
	}
	data, err := json.Marshal(options)
	if err != nil {
		t.Fatal(err)
	}
	o, err := supervisor.ParseOptions(data, "options.json")
	if err != nil {
		return err
	}
	svc := supervisor.MQTTService{Host: "core-mosquitto", Port: 1883, Username: "addons", Password: "pw"}
	_, err = supervisor.Config(o, svc, supervisor.Layout{}, charger.Default)
	return err
}

func TestAddonOptionsMapToConfig(t *testing.T) {
	c := addonConfig(t)
	schema := c["schema"].(map[string]any)
	if err := mapOptions(t, schema, c["options"].(map[string]any)); err != nil {
		t.Errorf("the default options: %v", err)
	}
	var full map[string]any
	if err := yaml.Unmarshal([]byte(fullOptions), &full); err != nil {
		t.Fatal(err)
	}
	if err := mapOptions(t, schema, full); err != nil {
		t.Fatalf("every option set: %v", err)
	}
	for _, p := range schemaLeaves(schema, "") {
		if _, ok := lookup(full, p.path); !ok {
			t.Errorf("schema option %s is not in this test's fullOptions; add it", p.path)
		}
	}
	// Every value a list(...) offers in the UI is one evbridge accepts.
	for _, p := range schemaLeaves(schema, "") {
		m := regexp.MustCompile(`^list\((.+)\)\??$`).FindStringSubmatch(p.typ)
		if m == nil {
			continue
		}
		for _, v := range strings.Split(m[1], "|") {
			var opts map[string]any
			_ = yaml.Unmarshal([]byte(fullOptions), &opts)
			set(opts, p.path, v)
			if err := mapOptions(t, schema, opts); err != nil {
				t.Errorf("%s: %s: %v", p.path, v, err)
			}
		}
	}
	docs, _ := os.ReadFile(filepath.Join(addonDir, "DOCS.md"))
	example := regexp.MustCompile("(?s)## Configuration.*?```yaml\n(.*?)```").FindSubmatch(docs)
	if example == nil {
		t.Fatal("DOCS.md has no yaml example under ## Configuration")
	}
	var ex map[string]any
	if err := yaml.Unmarshal(example[1], &ex); err != nil {
		t.Fatal(err)
	}
	if err := mapOptions(t, schema, ex); err != nil {
		t.Errorf("DOCS.md's example: %v", err)
	}
	// DOCS.md's evbridge.yaml example is a valid add-on config file.
	fileExample := regexp.MustCompile("(?s)### More than the options.*?```yaml\n(.*?)```").FindSubmatch(docs)
	if fileExample == nil {
		t.Fatal("DOCS.md has no evbridge.yaml example under ### More than the options")
	}
	layout := supervisor.Layout{DataDir: "/data", ConfigDir: t.TempDir()}
	if err := os.WriteFile(layout.ConfigPath(), fileExample[1], 0o600); err != nil {
		t.Fatal(err)
	}
	shipped, _ := json.Marshal(c["options"])
	o, err := supervisor.ParseOptions(shipped, "options.json")
	if err != nil {
		t.Fatal(err)
	}
	svc := supervisor.MQTTService{Host: "core-mosquitto", Port: 1883}
	if cfg, err := supervisor.Config(o, svc, layout, charger.Default); err != nil {
		t.Errorf("DOCS.md's evbridge.yaml example with the shipped options: %v", err)
	} else if len(cfg.Chargers) != 1 || len(cfg.Meters) != 1 || !cfg.SiteEnabled() {
		t.Errorf("DOCS.md's example gave chargers %v, meters %v", cfg.Chargers, cfg.Meters)
	}
	for k := range schema {
		if !strings.Contains(string(docs), "`"+k) {
			t.Errorf("DOCS.md does not document option %s", k)
		}
	}
}

type leaf struct{ path, typ string }

// schemaLeaves lists the type strings of a schema with their paths; list
// elements get the path of the list with [0].
func schemaLeaves(el any, path string) []leaf {
	switch v := el.(type) {
	case string:
		return []leaf{{path, v}}
	case []any:
		return schemaLeaves(v[0], path+"[0]")
	case map[string]any:
		var out []leaf
		for k, e := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, schemaLeaves(e, p)...)
		}
		return out
	}
	return nil
}

var pathPart = regexp.MustCompile(`([^.\[]+)|\[(\d+)\]`)

// lookup and set walk an options tree along a leaf path.
func lookup(tree any, path string) (any, bool) {
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		switch {
		case m[1] != "":
			mm, ok := tree.(map[string]any)
			if !ok {
				return nil, false
			}
			if tree, ok = mm[m[1]]; !ok {
				return nil, false
			}
		default:
			l, ok := tree.([]any)
			if !ok || len(l) == 0 {
				return nil, false
			}
			tree = l[0]
		}
	}
	return tree, true
}

func set(tree map[string]any, path, v string) {
	i := strings.LastIndex(path, ".")
	parent := any(tree)
	if i >= 0 {
		parent, _ = lookup(tree, path[:i])
	}
	parent.(map[string]any)[path[i+1:]] = v
}

func TestAddonTranslations(t *testing.T) {
	tr := loadYAML(t, filepath.Join(addonDir, "translations", "en.yaml"))
	schema := addonConfig(t)["schema"].(map[string]any)
	conf, _ := tr["configuration"].(map[string]any)
	for k := range schema {
		entry, _ := conf[k].(map[string]any)
		if name, _ := entry["name"].(string); name == "" {
			t.Errorf("translations/en.yaml: configuration.%s.name missing", k)
		}
	}
	for k, v := range conf {
		if _, ok := schema[k]; !ok {
			t.Errorf("translations/en.yaml: %s is not an option", k)
		}
		fields, _ := v.(map[string]any)["fields"].(map[string]any)
		sub, _ := schema[k].(map[string]any)
		for f := range fields {
			if _, ok := sub[f]; !ok {
				t.Errorf("translations/en.yaml: %s.fields.%s is not an option", k, f)
			}
		}
	}
	for k := range tr["network"].(map[string]any) {
		if !rePort.MatchString(k) {
			t.Errorf("translations/en.yaml: network key %q", k)
		}
	}
}

func TestAddonImagesAndDocs(t *testing.T) {
	for name, size := range map[string][2]int{"icon.png": {128, 128}, "logo.png": {250, 100}} {
		f, err := os.Open(filepath.Join(addonDir, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != size[0] || cfg.Height != size[1] {
			t.Errorf("%s: %dx%d, %v; want %dx%d", name, cfg.Width, cfg.Height, err, size[0], size[1])
		}
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./ha/addon/tools/genimages", "-out", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genimages: %v\n%s", err, b)
	}
	for _, name := range []string{"icon.png", "logo.png"} {
		want, _ := os.ReadFile(filepath.Join(out, name))
		got, _ := os.ReadFile(filepath.Join(addonDir, name))
		if !bytes.Equal(got, want) {
			t.Errorf("ha/addon/%s is not what ha/addon/tools/genimages draws; run it", name)
		}
	}
	for _, name := range []string{"README.md", "DOCS.md", "CHANGELOG.md"} {
		if b, err := os.ReadFile(filepath.Join(addonDir, name)); err != nil || len(b) < 100 {
			t.Errorf("%s: %v", name, err)
		}
	}
	docs, _ := os.ReadFile(filepath.Join(addonDir, "DOCS.md"))
	for _, want := range []string{"host_network", "security rating", "Service not enabled", "evbridge-state.json", "corrupt"} {
		if !bytes.Contains(docs, []byte(want)) {
			t.Errorf("DOCS.md does not explain %q", want)
		}
	}
}

func TestRepositoryYAML(t *testing.T) {
	r := loadYAML(t, filepath.Join(root, "repository.yaml"))
	if name, _ := r["name"].(string); name == "" {
		t.Error("repository.yaml: name is required")
	}
	if url, _ := r["url"].(string); !strings.HasPrefix(url, "https://") {
		t.Errorf("repository.yaml: url %v", r["url"])
	}
}

// The Supervisor takes every config.{json,yaml,yml} in the repository
// (outside hidden folders and rootfs) for an add-on.
func TestOnlyOneAddonInRepository(t *testing.T) {
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "rootfs") {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(d.Name()); strings.TrimSuffix(d.Name(), ext) == "config" && slices.Contains([]string{".json", ".yaml", ".yml"}, ext) {
			rel, _ := filepath.Rel(root, path)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, []string{"ha/addon/config.yaml"}) {
		t.Errorf("config.* files %v: the Supervisor would read each as an add-on; rename all but ha/addon/config.yaml", found)
	}
}
