package generichttp

import (
	"os"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
)

// minimal is the smallest valid definition; cases below break one thing.
const minimal = `
requests:
  status: {path: /status}
state:
  status: {path: state}
`

func TestDefinitionErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", minimal + "colour: red\n", "field colour not found"},
		{"unknown field key", strings.Replace(minimal, "{path: state}", "{path: state, pth: x}", 1), "field pth not found"},
		{"no requests", "state:\n  status: {path: s}\n", "requests: at least one request is needed"},
		{"no status", "requests:\n  r: {path: /s}\nstate:\n  power: {path: p}\n", "state.status: required"},
		{"bad path", strings.Replace(minimal, "{path: state}", `{path: "nrg[1"}`, 1), `state.status.path: path "nrg[1" at byte 3: unclosed [`},
		{"path and template", strings.Replace(minimal, "{path: state}", `{path: a, template: "{{.a}}"}`, 1), "give either path or template"},
		{"bad template", strings.Replace(minimal, "{path: state}", `{template: "{{.a"}`, 1), "state.status.template"},
		{"unknown function", strings.Replace(minimal, "{path: state}", `{template: "{{avg .a}}"}`, 1), `function "avg" not defined`},
		{"bad IEC", strings.Replace(minimal, "{path: state}", "{path: s, map: [{match: '1', value: X}]}", 1), `state.status.map[0].value: "X" is not an IEC state`},
		{"bad status", strings.Replace(minimal, "{path: state}", "{path: s, map: [{match: '1', value: B, status: idle}]}", 1), `status: "idle"`},
		{"empty pattern", strings.Replace(minimal, "{path: state}", "{path: s, map: [{match: '', value: B}]}", 1), `map[0].match: empty`},
		{"status on power", minimal + "  power: {path: p, map: [{match: '1', value: '2', status: charging}]}\n", "only status cases take a status"},
		{"number value", minimal + "  power: {path: p, map: [{match: 'x', value: lots}]}\n", `state.power.map[0].value: "lots" is not a number`},
		{"bool value", minimal + "  enabled: {path: e, map: [{match: 'x', value: yes}]}\n", `"yes" is not true or false`},
		{"scale on text", minimal + "  serial: {path: s, scale: 2}\n", "state.serial.scale"},
		{"zero scale", minimal + "  power: {path: p, scale: 0}\n", "state.power.scale: 0"},
		{"optional status", strings.Replace(minimal, "{path: state}", "{path: s, optional: true}", 1), "cannot be optional"},
		{"four currents", minimal + "  currents: [{path: a}, {path: b}, {path: c}, {path: d}]\n", "4 entries"},
		{"unknown from", minimal + "  power: {from: meter, path: p}\n", `state.power.from: no request is called "meter"`},
		{"from needed", strings.Replace(minimal, "  status: {path: /status}\n", "  status: {path: /status}\n  meter: {path: /m}\n", 1),
			"state.status.from: needed when there are several requests"},
		{"unused request", strings.Replace(strings.Replace(minimal, "  status: {path: /status}\n", "  status: {path: /status}\n  meter: {path: /m}\n", 1),
			"{path: state}", "{from: status, path: state}", 1), "requests.meter: no state field reads this request"},
		{"request name", strings.Replace(minimal, "status: {path: /status}", "Status: {path: /status}", 1), "requests.Status: request names"},
		{"relative path", strings.Replace(minimal, "{path: /status}", "{path: status}", 1), `requests.status.path: "status"`},
		{"method", strings.Replace(minimal, "{path: /status}", "{path: /s, method: DELETE}", 1), `"DELETE": want GET, POST, PUT or PATCH`},
		{"status code", strings.Replace(minimal, "{path: /status}", "{path: /s, ok_status: [42]}", 1), "42 is not an HTTP status"},
		{"header", minimal + "headers: {\"Bad Header\": x}\n", `"Bad Header" is not a header name`},
		{"scheme", minimal + "scheme: ftp\n", `scheme: "ftp"`},
		{"set current no range", minimal + "commands:\n  set_current: {path: \"/a?v={{.Value}}\"}\n", "current_range: needed"},
		{"range", minimal + "current_range: {min: 6, max: 5, step: 1}\n", "current_range: want"},
		{"command template", minimal + "commands:\n  enable: {path: \"/a?v={{.Valu\"}\n", "commands.enable.path"},
		{"check path", minimal + "commands:\n  enable: {path: /a, check: {path: \"a..b\", equals: ok}}\n", "commands.enable.check.path"},
		{"keep alive", minimal + "keep_alive: {interval: 100ms, path: /k}\n", "keep_alive.interval: 100ms"},
		{"command interval", minimal + "commands:\n  enable: {path: /a, min_interval: 1s}\n", "only reads take"},
	}
	for _, c := range cases {
		o, err := decodeStrict([]byte(c.yaml))
		if err == nil {
			err = o.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
	o, err := decodeStrict([]byte(minimal))
	if err != nil || o.Validate() != nil {
		t.Fatalf("minimal definition: %v %v", err, o.Validate())
	}
}

func TestBuiltins(t *testing.T) {
	if got := Builtins(); len(got) == 0 || got[0] != "goe" {
		t.Fatalf("builtins %v", got)
	}
	for _, name := range Builtins() {
		if err := (&Options{Builtin: name}).Validate(); err != nil {
			t.Errorf("builtin %s: %v", name, err)
		}
	}
	if err := (&Options{Builtin: "nope"}).Validate(); err == nil || !strings.Contains(err.Error(), "not one of goe") {
		t.Errorf("unknown builtin: %v", err)
	}
	withHeader := &Options{Builtin: "goe", Definition: Definition{Headers: map[string]string{"Authorization": "Bearer x"}}}
	if err := withHeader.Validate(); err != nil {
		t.Errorf("builtin with a header: %v", err)
	}
	withMore := &Options{Builtin: "goe", Definition: Definition{Brand: "x"}}
	if err := withMore.Validate(); err == nil || !strings.Contains(err.Error(), "only headers") {
		t.Errorf("builtin with more: %v", err)
	}
	if _, err := New(charger.Settings{Address: "h"}, nil, nil); err == nil {
		t.Error("no options accepted")
	}
}

// The options go through the daemon's own config loader: the shipped goe
// definition decodes strictly as a charger's options block, and a typo in
// one is an error with its line.
func TestThroughConfigLoader(t *testing.T) {
	def, err := os.ReadFile("examples/goe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("chargers:\n  - name: wallbox\n    driver: generic_http\n    address: 192.0.2.30\n    options:\n")
	for _, line := range strings.Split(string(def), "\n") {
		if line != "" {
			b.WriteString("      " + line)
		}
		b.WriteString("\n")
	}
	doc := b.String()
	cfg, err := config.Parse([]byte(doc), "inline.yaml", charger.Default)
	if err != nil {
		t.Fatalf("%v", err)
	}
	o := cfg.Chargers[0].Options.(*Options)
	if o.Brand != "go-e" || o.Requests["status"] == nil || len(o.State.Status.Map) != 8 {
		t.Fatalf("decoded options: %+v", o)
	}
	bad := strings.Replace(doc, "current_limit: {path: amp}", "current_limt: {path: amp}", 1)
	_, err = config.Parse([]byte(bad), "inline.yaml", charger.Default)
	if err == nil || !strings.Contains(err.Error(), "current_limt") || !strings.Contains(err.Error(), "inline.yaml:") {
		t.Fatalf("typo: %v", err)
	}
	short := "chargers:\n  - name: wallbox\n    driver: generic_http\n    address: 192.0.2.30\n    options: {builtin: goe}\n"
	if _, err := config.Parse([]byte(short), "short.yaml", charger.Default); err != nil {
		t.Fatalf("builtin by name: %v", err)
	}
	broken := strings.Replace(short, "{builtin: goe}", "{requests: {r: {path: /s}}, state: {status: {path: \"a[\"}}}", 1)
	if _, err := config.Parse([]byte(broken), "broken.yaml", charger.Default); err == nil || !strings.Contains(err.Error(), "unclosed [") {
		t.Fatalf("bad path through the loader: %v", err)
	}
}
