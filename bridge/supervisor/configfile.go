package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// The add-on's Configuration tab covers the common settings only. What it
// cannot express (a driver's options block, meters fed by MQTT topics,
// the OCPP central system, site.pv tuning) goes in a config file in the
// add-on's public config folder, which Home Assistant shows as
// /addon_configs/<slug> and maps to /config in the container.
const (
	// DefaultConfigDir is the add-on's public config folder in the
	// container (config.yaml: map addon_config).
	DefaultConfigDir = "/config"
	// ConfigFile is the optional config file in that folder.
	ConfigFile = "evbridge.yaml"
)

// ownedKeys are the config keys the add-on sets itself: a config file in
// the add-on that sets them is refused, not silently overridden.
var ownedKeys = map[string]string{
	"mqtt":  "the broker comes from the Supervisor (the Mosquitto add-on)",
	"http":  "the web UI is served on the add-on's ingress port",
	"state": "the state file is kept in the add-on's /data",
}

// ConfigPath is the add-on's optional config file in the layout.
func (l Layout) ConfigPath() string {
	dir := l.ConfigDir
	if dir == "" {
		dir = DefaultConfigDir
	}
	return filepath.Join(dir, ConfigFile)
}

// readConfigFile returns the add-on's config file, or nil when there is
// none.
func readConfigFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the add-on's config file: %w", err)
	}
	return data, nil
}

// fileKeys returns the top-level keys of a config file and their lines. The
// file must be one block mapping starting at column 1 (or empty), so that
// the add-on's own keys can be appended below it and every line the user
// wrote keeps its number in messages.
func fileKeys(data []byte, path string) (map[string]int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return map[string]int{}, nil
	} else if err != nil {
		return nil, config.Errors{{File: path, Msg: "not valid YAML: " + err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, config.Errors{{File: path, Msg: "holds more than one YAML document; keep one"}}
	}
	if len(doc.Content) == 0 {
		return map[string]int{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 || root.Column != 1 {
		return nil, config.Errors{{File: path, Line: root.Line, Column: root.Column,
			Msg: "must be a mapping of config keys starting at the left margin, like config.example.yaml"}}
	}
	keys := map[string]int{}
	var errs config.Errors
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if why, owned := ownedKeys[k.Value]; owned {
			errs = append(errs, &config.Error{File: path, Line: k.Line, Column: k.Column, Path: k.Value,
				Msg: "set by the add-on, remove it here: " + why})
			continue
		}
		keys[k.Value] = k.Line
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return keys, nil
}

// conflicts lists the settings made both in the options and in the file:
// one place only, or the user cannot tell which one counts.
func (o *Options) conflicts(keys map[string]int, file, optionsPath string) config.Errors {
	var errs config.Errors
	both := func(key, option string) {
		errs = append(errs, &config.Error{File: file, Line: keys[key], Column: 1, Path: key,
			Msg: fmt.Sprintf("also set in the add-on's options (%s: %s); keep it in one place", optionsPath, option)})
	}
	if _, ok := keys["chargers"]; ok && len(o.Chargers) > 0 {
		both("chargers", "chargers")
	}
	if _, ok := keys["meters"]; ok && len(o.Meters) > 0 {
		both("meters", "meters")
	}
	if _, ok := keys["site"]; ok && o.Site != (SiteOptions{}) {
		both("site", "site")
	}
	if _, ok := keys["discovery"]; ok && !o.Discovery.isDefault() {
		both("discovery", "discovery")
	}
	return errs
}

// isDefault: the discovery option as the add-on ships it.
func (d DiscoveryOptions) isDefault() bool {
	return (d.MDNS == nil || *d.MDNS) && len(d.Subnets) == 0 && (d.Found == "" || d.Found == "pending") && d.Interval == ""
}

// withoutKeys re-encodes a generated config document without the given
// top-level keys: the file's own sections replace the options'.
func withoutKeys(doc []byte, drop map[string]int) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, fmt.Errorf("re-read generated config: %w", err)
	}
	root := n.Content[0]
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if _, ok := drop[root.Content[i].Value]; !ok {
			kept = append(kept, root.Content[i], root.Content[i+1])
		}
	}
	root.Content = kept
	return yaml.Marshal(root)
}

// configWithFile is Config when the add-on has a config file: the file,
// with the add-on's own keys and the options the file leaves out appended
// below it. Messages about the file's lines name the file; the rest is
// reported against the options as without a file.
func configWithFile(o *Options, svc MQTTService, l Layout, reg *charger.Registry, file []byte) (*config.Config, error) {
	path := l.ConfigPath()
	keys, err := fileKeys(file, path)
	if err != nil {
		return nil, err
	}
	if errs := o.conflicts(keys, path, l.OptionsPath()); len(errs) > 0 {
		return nil, errs
	}
	generated, err := o.ConfigYAML(svc, l)
	if err != nil {
		return nil, err
	}
	if generated, err = withoutKeys(generated, keys); err != nil {
		return nil, err
	}
	fileLines := bytes.Count(file, []byte("\n"))
	if len(file) > 0 && !bytes.HasSuffix(file, []byte("\n")) {
		fileLines++
	}
	doc := slices.Concat(file, []byte("\n# added by the add-on\n"), generated)
	if len(file) > 0 && !bytes.HasSuffix(file, []byte("\n")) {
		doc = slices.Concat(file, []byte("\n\n# added by the add-on\n"), generated)
	}
	cfg, err := config.Parse(doc, path, reg)
	if err == nil {
		return cfg, nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(config.Errors, 0, len(errs))
	for _, e := range errs {
		if e.Line > 0 && e.Line <= fileLines || e.Line == 0 && fromFile(e.Path, keys) {
			out = append(out, e)
			continue
		}
		out = append(out, optionsError(e, l))
	}
	return nil, out
}

// fromFile: a message without a line is the file's when its key path
// starts with one of the file's keys.
func fromFile(path string, keys map[string]int) bool {
	top, _, _ := strings.Cut(path, ".")
	top, _, _ = strings.Cut(top, "[")
	_, ok := keys[top]
	return ok
}
