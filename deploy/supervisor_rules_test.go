package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A small re-implementation of the Home Assistant Supervisor's checks of an
// add-on's config.yaml and of options against its schema, after
// supervisor/apps/validate.py (_SCHEMA_APP_CONFIG) and apps/options.py
// (AppOptions) as of 2026 (../shared/notes/ha-conventions.md §4). It is
// stricter where the Supervisor only warns: unknown keys and deprecated
// architectures are errors here.

var (
	reSlug          = regexp.MustCompile(`^[-_.A-Za-z0-9]+$`)
	reVersion       = regexp.MustCompile(`^\d+\.\d+\.\d+(?:[-.][0-9A-Za-z.]+)?$`)
	reService       = regexp.MustCompile(`^(mqtt|mysql):(provide|want|need)$`)
	reWebUI         = regexp.MustCompile(`^(?:https?|\[PROTO:\w+\]):\/\/\[HOST\]:\[PORT:\d+\].*$`)
	reWatchdog      = regexp.MustCompile(`^(?:https?|\[PROTO:\w+\]|tcp):\/\/\[HOST\]:(\[PORT:\d+\]|\d+).*$`)
	reDockerImage   = regexp.MustCompile(`^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)$`)
	reImagePart     = regexp.MustCompile(`^[a-z0-9{][a-z0-9.\-_{}]*$`)
	rePort          = regexp.MustCompile(`^\d+(?:/tcp|/udp)?$`)
	reSchemaElement = regexp.MustCompile(`^(?:` +
		`|bool|email|url|port` +
		`|device(?:\((?P<filter>subsystem=[a-z]+)\))?` +
		`|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?` +
		`|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?` +
		`|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?` +
		`|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?` +
		`|match\((?P<match>.*)\)` +
		`|list\((?P<list>.+)\)` +
		`)\??$`)
)

var (
	archAll        = []string{"aarch64", "amd64"}
	archDeprecated = []string{"armhf", "armv7", "i386"}
	startups       = []string{"initialize", "system", "services", "application", "once"}
	boots          = []string{"auto", "manual", "manual_only"}
	stages         = []string{"stable", "experimental", "deprecated"}
)

// mapTypes are the folders an add-on can map (developer docs, "Add-on
// configuration": map); "config" is the pre-2023 name of
// homeassistant_config.
var mapTypes = []string{"homeassistant_config", "addon_config", "ssl", "addons", "backup", "share", "media",
	"all_addon_configs", "data"}

var reMapShort = regexp.MustCompile(`^(homeassistant_config|addon_config|ssl|addons|backup|share|media|all_addon_configs|data|config)(:rw)?$`)

// knownKeys are the config.yaml keys the Supervisor reads.
var knownKeys = strings.Fields(`name version slug description arch machine url startup boot init advanced
	stage ports ports_description webui watchdog ingress ingress_port ingress_entry ingress_stream
	panel_icon panel_title panel_admin homeassistant host_network host_pid host_ipc host_uts host_dbus
	devices udev tmpfs map environment privileged apparmor full_access audio video gpio usb uart
	devicetree kernel_modules realtime hassio_api hassio_role homeassistant_api stdin legacy docker_api
	auth_api services discovery backup_exclude backup_pre backup_post backup options schema image
	ulimits timeout journald breaking_versions`)

// validateAddon checks an add-on's config.yaml, decoded into generic values.
func validateAddon(c map[string]any) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for k := range c {
		if !slices.Contains(knownKeys, k) {
			bad("unknown key %q (the Supervisor drops it)", k)
		}
	}
	for _, k := range []string{"name", "description"} {
		if s, ok := c[k].(string); !ok || s == "" {
			bad("%s: required string", k)
		}
	}
	if s, ok := c["slug"].(string); !ok || !reSlug.MatchString(s) {
		bad("slug %v: must match %s", c["slug"], reSlug)
	}
	if s, ok := c["version"].(string); !ok || !reVersion.MatchString(s) {
		bad("version %v: want a quoted version such as \"1.2.3\" (it is the image tag)", c["version"])
	}
	arch, ok := c["arch"].([]any)
	if !ok || len(arch) == 0 {
		bad("arch: required list")
	}
	for _, a := range arch {
		switch s, _ := a.(string); {
		case slices.Contains(archAll, s):
		case slices.Contains(archDeprecated, s):
			bad("arch %s is deprecated; use %v", s, archAll)
		default:
			bad("arch %v: not one of %v", a, archAll)
		}
	}
	oneOf := func(key string, valid []string) {
		if v, ok := c[key]; ok {
			if s, _ := v.(string); !slices.Contains(valid, s) {
				bad("%s %v: not one of %v", key, v, valid)
			}
		}
	}
	oneOf("startup", startups)
	oneOf("boot", boots)
	oneOf("stage", stages)
	for _, k := range []string{"ingress", "host_network", "hassio_api", "homeassistant_api", "auth_api", "init", "panel_admin", "journald"} {
		if v, ok := c[k]; ok {
			if _, isBool := v.(bool); !isBool {
				bad("%s %v: want true or false", k, v)
			}
		}
	}
	match := func(key string, re *regexp.Regexp) {
		if v, ok := c[key]; ok {
			if s, _ := v.(string); !re.MatchString(s) {
				bad("%s %v: must match %s", key, v, re)
			}
		}
	}
	match("webui", reWebUI)
	match("watchdog", reWatchdog)
	if v, ok := c["ingress_port"]; ok {
		if p, isInt := v.(int); !isInt || p < 0 || p > 65535 {
			bad("ingress_port %v: want 0 (dynamic) or a port", v)
		}
	}
	if v, ok := c["panel_icon"]; ok {
		if s, _ := v.(string); !strings.HasPrefix(s, "mdi:") {
			bad("panel_icon %v: want mdi:<name>", v)
		}
	}
	if ports, ok := c["ports"].(map[string]any); ok {
		for k, v := range ports {
			if !rePort.MatchString(k) {
				bad("ports key %q: want 8080/tcp", k)
			}
			if p, isInt := v.(int); v != nil && (!isInt || p < 1 || p > 65535) {
				bad("ports %s: %v is not a port or null", k, v)
			}
		}
	}
	for _, s := range list(c["services"]) {
		if str, _ := s.(string); !reService.MatchString(str) {
			bad("services %v: must match %s", s, reService)
		}
	}
	for _, m := range list(c["map"]) {
		switch v := m.(type) {
		case string:
			if !reMapShort.MatchString(v) {
				bad("map %q: want a folder (%s), optionally with :rw", v, strings.Join(mapTypes, ", "))
			} else if strings.HasPrefix(v, "config") {
				bad("map %q: 'config' was replaced by homeassistant_config (or addon_config for the add-on's own files)", v)
			}
		case map[string]any:
			for k := range v {
				if k != "type" && k != "read_only" && k != "path" {
					bad("map entry key %q: want type, read_only, path", k)
				}
			}
			if t, _ := v["type"].(string); !slices.Contains(mapTypes, t) {
				bad("map type %v: not one of %v", v["type"], mapTypes)
			}
			if ro, ok := v["read_only"]; ok {
				if _, isBool := ro.(bool); !isBool {
					bad("map read_only %v: want true or false", ro)
				}
			}
			if p, ok := v["path"]; ok {
				if ps, _ := p.(string); !strings.HasPrefix(ps, "/") {
					bad("map path %v: want an absolute path in the container", p)
				}
			}
		default:
			bad("map entry %v: want a string or a mapping", m)
		}
	}
	if v, ok := c["image"]; ok {
		s, _ := v.(string)
		if !reDockerImage.MatchString(s) || strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
			bad("image %q: a repository without tag (the tag is the version)", s)
		}
		for _, part := range strings.Split(s, "/") {
			if !reImagePart.MatchString(part) {
				bad("image %q: %q must be lowercase [a-z0-9._-]", s, part)
			}
		}
	}
	if v, ok := c["timeout"]; ok {
		if n, isInt := v.(int); !isInt || n < 10 || n > 300 {
			bad("timeout %v: want 10 to 300", v)
		}
	}
	schema, ok := c["schema"].(map[string]any)
	if !ok {
		if c["schema"] != nil && c["schema"] != false {
			bad("schema: want a mapping or false")
		}
		return errs
	}
	for k, el := range schema {
		errs = append(errs, validateSchemaElement(k, el, 0)...)
	}
	options, _ := c["options"].(map[string]any)
	if c["options"] != nil && options == nil {
		bad("options: want a mapping")
	}
	errs = append(errs, validateOptions(schema, options)...)
	return errs
}

func list(v any) []any { l, _ := v.([]any); return l }

// validateSchemaElement checks one schema entry: a type string, a list of
// one element (not itself a list), or a mapping; nested at most 2 deep.
func validateSchemaElement(path string, el any, depth int) []error {
	switch v := el.(type) {
	case string:
		if !reSchemaElement.MatchString(v) {
			return []error{fmt.Errorf("schema %s: %q is not a schema type", path, v)}
		}
		if m := reSchemaElement.FindStringSubmatch(v); m[reSchemaElement.SubexpIndex("match")] != "" {
			if _, err := regexp.Compile(m[reSchemaElement.SubexpIndex("match")]); err != nil {
				return []error{fmt.Errorf("schema %s: %v", path, err)}
			}
		}
		return nil
	case []any:
		if depth >= 2 {
			return []error{fmt.Errorf("schema %s: nested more than 2 deep", path)}
		}
		if len(v) != 1 {
			return []error{fmt.Errorf("schema %s: a list schema has exactly one element", path)}
		}
		if _, isList := v[0].([]any); isList {
			return []error{fmt.Errorf("schema %s: a list may not directly contain another list", path)}
		}
		return validateSchemaElement(path+"[]", v[0], depth+1)
	case map[string]any:
		if depth >= 2 {
			return []error{fmt.Errorf("schema %s: nested more than 2 deep", path)}
		}
		var errs []error
		for k, e := range v {
			errs = append(errs, validateSchemaElement(path+"."+k, e, depth+1)...)
		}
		return errs
	}
	return []error{fmt.Errorf("schema %s: %T is not a schema element", path, el)}
}

// validateOptions checks options against schema as AppOptions does when
// the add-on starts, except that unknown options are errors here.
func validateOptions(schema, options map[string]any) []error {
	var errs []error
	for k, v := range options {
		typ, ok := schema[k]
		if !ok {
			errs = append(errs, fmt.Errorf("option %s is not in the schema", k))
			continue
		}
		errs = append(errs, validateElement(k, typ, v)...)
	}
	return append(errs, missing(schema, options, "root")...)
}

func validateElement(path string, typ, v any) []error {
	switch t := typ.(type) {
	case []any:
		l, ok := v.([]any)
		if !ok {
			return []error{fmt.Errorf("option %s: invalid list", path)}
		}
		var errs []error
		for i, el := range l {
			errs = append(errs, validateElement(fmt.Sprintf("%s[%d]", path, i), t[0], el)...)
		}
		return errs
	case map[string]any:
		m, ok := v.(map[string]any)
		if !ok {
			return []error{fmt.Errorf("option %s: invalid dict", path)}
		}
		var errs []error
		for k, el := range m {
			sub, ok := t[k]
			if !ok {
				errs = append(errs, fmt.Errorf("option %s.%s is not in the schema", path, k))
				continue
			}
			errs = append(errs, validateElement(path+"."+k, sub, el)...)
		}
		return append(errs, missing(t, m, path)...)
	case string:
		if err := validateSingle(t, v); err != nil {
			return []error{fmt.Errorf("option %s: %w", path, err)}
		}
		return nil
	}
	return []error{fmt.Errorf("option %s: bad schema %v", path, typ)}
}

// missing reports schema keys without an option that are not optional: a
// type string ending in "?", or a list of one.
func missing(schema, options map[string]any, where string) []error {
	var errs []error
	for k, typ := range schema {
		if _, ok := options[k]; ok {
			continue
		}
		if l, isList := typ.([]any); isList && len(l) > 0 {
			typ = l[0]
		}
		if s, isStr := typ.(string); isStr && strings.HasSuffix(s, "?") {
			continue
		}
		errs = append(errs, fmt.Errorf("missing option %s in %s", k, where))
	}
	return errs
}

func validateSingle(typ string, v any) error {
	if v == nil {
		return fmt.Errorf("missing required value")
	}
	m := reSchemaElement.FindStringSubmatch(typ)
	if m == nil {
		return fmt.Errorf("unknown type %q", typ)
	}
	group := func(name string) string { return m[reSchemaElement.SubexpIndex(name)] }
	inRange := func(x float64, lo, hi string) error {
		if lo != "" && x < parseFloat(lo) || hi != "" && x > parseFloat(hi) {
			return fmt.Errorf("%v is out of range (%s,%s)", v, lo, hi)
		}
		return nil
	}
	text := fmt.Sprint(v)
	switch t := strings.TrimSuffix(typ, "?"); {
	case strings.HasPrefix(t, "str"), strings.HasPrefix(t, "password"):
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v is not a string", v)
		}
	case strings.HasPrefix(t, "int"):
		n, ok := v.(int)
		if !ok {
			return fmt.Errorf("%v is not an integer", v)
		}
		return inRange(float64(n), group("i_min"), group("i_max"))
	case strings.HasPrefix(t, "float"):
		var x float64
		switch n := v.(type) {
		case int:
			x = float64(n)
		case float64:
			x = n
		default:
			return fmt.Errorf("%v is not a number", v)
		}
		return inRange(x, group("f_min"), group("f_max"))
	case strings.HasPrefix(t, "bool"):
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%v is not true or false", v)
		}
	case strings.HasPrefix(t, "port"):
		if n, ok := v.(int); !ok || n < 1 || n > 65535 {
			return fmt.Errorf("%v is not a port", v)
		}
	case strings.HasPrefix(t, "match"):
		if loc := regexp.MustCompile(group("match")).FindStringIndex(text); loc == nil || loc[0] != 0 {
			return fmt.Errorf("%q does not match %s", text, group("match"))
		}
	case strings.HasPrefix(t, "list"):
		if !slices.Contains(strings.Split(group("list"), "|"), text) {
			return fmt.Errorf("%q is not one of %s", text, group("list"))
		}
	}
	return nil
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
