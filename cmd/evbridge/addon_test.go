package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/bridge/supervisor"
	"github.com/evbridge/evbridge/drivers/goe"
)

const addonWait = 15 * time.Second

// The broker password has a "$" so that the test also shows the broker
// credentials reach the connection literally, not ${...}-expanded.
const brokerUser, brokerPass = "addons", "s3cret${HOME}$$x"

// addonEnv is a Home Assistant add-on's world on loopback: a data
// directory, a real Mosquitto with the add-on user, and a stand-in
// Supervisor whose services API names that broker.
type addonEnv struct {
	dir    string
	broker *bridgetest.Mosquitto
	sup    *httptest.Server
	calls  atomic.Int32
	// reply answers the n-th call of GET /services/mqtt; nil names the broker.
	reply atomic.Pointer[func(n int) (int, string)]
}

func newAddonEnv(t *testing.T) *addonEnv {
	t.Helper()
	e := &addonEnv{dir: t.TempDir()}
	e.broker = bridgetest.StartMosquitto(t, bridgetest.MosquittoOptions{Users: map[string]string{brokerUser: brokerPass}})
	host, port, _ := net.SplitHostPort(e.broker.Addr)
	e.sup = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(e.calls.Add(1))
		if r.URL.Path != "/services/mqtt" || r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"result":"error","message":"Invalid token or path"}`)
			return
		}
		code, body := 200, fmt.Sprintf(`{"result":"ok","data":{"addon":"core_mosquitto","host":%q,"port":%q,"ssl":false,"username":%q,"password":%q,"protocol":"3.1.1"}}`,
			host, port, brokerUser, brokerPass)
		if f := e.reply.Load(); f != nil {
			code, body = (*f)(n)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(e.sup.Close)
	return e
}

func (e *addonEnv) writeOptions(t *testing.T, options string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, supervisor.OptionsFile), []byte(options), 0o644); err != nil {
		t.Fatal(err)
	}
}

// settings are runSettings of add-on mode with a fast retry.
func (e *addonEnv) settings() *runSettings {
	return &runSettings{addon: true, layout: supervisor.Layout{DataDir: e.dir, Listen: "127.0.0.1:0"}, supervisor: e.sup.URL,
		retry: supervisor.Retry{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond},
		getenv: func(k string) string {
			if k == supervisor.TokenEnv {
				return "test-token"
			}
			return ""
		}}
}

func (e *addonEnv) subscribe(t *testing.T) *bridgetest.Subscriber {
	return bridgetest.SubscribeWith(t, bridgetest.ClientOptions{URL: e.broker.URL(), Username: brokerUser, Password: brokerPass}, "evbridge/#")
}

func startGoeSim(t *testing.T, ctx context.Context, serial string) *goe.Simulator {
	t.Helper()
	sim := goe.NewSimulator(goe.SimConfig{Serial: serial, Plugged: true})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func chargerOptions(name, addr string) string {
	return fmt.Sprintf(`{"name":%q,"driver":"goe","address":%q,"poll_interval":"200ms","max_current":20}`, name, addr)
}

func addonOptions(chargers ...string) string {
	return `{"log_level":"debug","chargers":[` + strings.Join(chargers, ",") + `],"meters":[],` +
		`"discovery":{"mdns":false,"subnets":[],"found":"pending"},"site":{}}`
}

// evbridge started by the Supervisor (only $SUPERVISOR_TOKEN tells it so)
// reads options.json, asks the services API for the broker and connects
// to it with those credentials: it has no MQTT settings of its own.
func TestAddonModeEndToEnd(t *testing.T) {
	e := newAddonEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := startGoeSim(t, ctx, "100001")
	e.writeOptions(t, addonOptions(chargerOptions("garage", sim.Addr())))
	t.Setenv(supervisor.TokenEnv, "test-token")
	sub := e.subscribe(t)

	// The web UI on loopback instead of the ingress port on every interface.
	web := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"run", "--data", e.dir, "--supervisor", e.sup.URL, "--listen", web}, &out, &errb)
	}()
	sub.WaitFor("evbridge/bridge/state", addonWait, payloadIs("online"))
	sub.WaitFor("evbridge/garage/state", addonWait, nil)
	// The image's HEALTHCHECK asks /healthz, which ingress mode serves to
	// local probes too.
	if code, hout, herr := run(t, "healthcheck", "--url", "http://"+web+"/healthz"); code != 0 {
		t.Errorf("healthcheck of the add-on: exit %d, %s%s", code, hout, herr)
	}
	if e.calls.Load() != 1 {
		t.Errorf("services API called %d times, want 1", e.calls.Load())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	log := errb.String()
	for _, want := range []string{"MQTT broker from the Supervisor", "provided_by=core_mosquitto", "evbridge starting"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, brokerPass) {
		t.Errorf("the broker password was logged:\n%s", log)
	}
	sub.WaitFor("evbridge/bridge/state", addonWait, payloadIs("offline"))
}

// What the Configuration tab cannot say goes in evbridge.yaml in the
// add-on's config folder: here the charger with a driver option and a
// timeout, while the broker still comes from the Supervisor.
func TestAddonModeConfigFile(t *testing.T) {
	e := newAddonEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := startGoeSim(t, ctx, "100002")
	e.writeOptions(t, addonOptions())
	confDir := t.TempDir()
	file := fmt.Sprintf("chargers:\n  - name: shed\n    driver: goe\n    address: %s\n    poll_interval: 200ms\n    timeout: 150ms\n    options:\n      token: \"\"\n", sim.Addr())
	if err := os.WriteFile(filepath.Join(confDir, supervisor.ConfigFile), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(supervisor.TokenEnv, "test-token")
	sub := e.subscribe(t)
	web := fmt.Sprintf("127.0.0.1:%d", bridgetest.FreePort(t))
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"run", "--data", e.dir, "--config-dir", confDir, "--supervisor", e.sup.URL, "--listen", web}, &out, &errb)
	}()
	sub.WaitFor("evbridge/shed/state", addonWait, nil)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if log := errb.String(); !strings.Contains(log, "extends the options") {
		t.Errorf("the log does not say the config file is used:\n%s", log)
	}

	// A key the add-on owns is refused, naming the file and line.
	if err := os.WriteFile(filepath.Join(confDir, supervisor.ConfigFile), []byte("mqtt:\n  broker: tcp://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "run", "--data", e.dir, "--config-dir", confDir, "--supervisor", e.sup.URL)
	if code != 1 || !strings.Contains(errOut, supervisor.ConfigFile+":1:1: mqtt: set by the add-on") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// Options the config rules refuse stop evbridge before the Supervisor is
// even asked, naming the option; so do an unreadable options file and a
// refused token. Exit 1 lets the Supervisor's watchdog restart it.
func TestAddonModeRefusesBadInput(t *testing.T) {
	e := newAddonEnv(t)
	t.Setenv(supervisor.TokenEnv, "test-token")
	args := []string{"run", "--data", e.dir, "--supervisor", e.sup.URL}

	e.writeOptions(t, addonOptions(`{"name":"garage","driver":"goe","address":"192.0.2.20","max_current":200}`))
	code, _, errOut := run(t, args...)
	if code != 1 || !strings.Contains(errOut, "options.json: option chargers[0].max_current: must be between 6 and 80") ||
		!strings.Contains(errOut, "Configuration tab") {
		t.Errorf("max_current 200: exit %d, stderr %q", code, errOut)
	}
	e.writeOptions(t, `{"log_level":"info","chargers":[],"colour":"red"}`)
	if code, _, errOut := run(t, args...); code != 1 || !strings.Contains(errOut, `unknown option "colour"`) {
		t.Errorf("unknown option: exit %d, stderr %q", code, errOut)
	}
	e.writeOptions(t, `{"chargers":[{"name":"a","driver":"goe","address":"x","phases":"three"}]}`)
	if code, _, errOut := run(t, args...); code != 1 || !strings.Contains(errOut, "option chargers.phases") {
		t.Errorf("wrong type: exit %d, stderr %q", code, errOut)
	}
	if n := e.calls.Load(); n != 0 {
		t.Errorf("the Supervisor was asked %d times despite bad options", n)
	}
	os.Remove(filepath.Join(e.dir, supervisor.OptionsFile))
	if code, _, errOut := run(t, args...); code != 1 || !strings.Contains(errOut, "read add-on options") {
		t.Errorf("no options.json: exit %d, stderr %q", code, errOut)
	}

	e.writeOptions(t, addonOptions())
	t.Setenv(supervisor.TokenEnv, "stale-token")
	if code, _, errOut := run(t, args...); code != 1 || !strings.Contains(errOut, "refused the add-on token") {
		t.Errorf("refused token: exit %d, stderr %q", code, errOut)
	}
	t.Setenv(supervisor.TokenEnv, "")
	if code, _, errOut := run(t, "run", "--addon", "--data", e.dir); code != 1 || !strings.Contains(errOut, "needs $SUPERVISOR_TOKEN") {
		t.Errorf("--addon without token: exit %d, stderr %q", code, errOut)
	}
}

// An unreachable Supervisor, one answering 500 and one with no MQTT
// provider are retried with backoff, then reported with what to do.
func TestAddonModeSupervisorErrors(t *testing.T) {
	e := newAddonEnv(t)
	e.writeOptions(t, addonOptions())
	cases := []struct {
		name  string
		reply func(int) (int, string)
		down  bool
		want  string
	}{
		{name: "not enabled", reply: func(int) (int, string) { return 400, `{"result":"error","message":"Service not enabled"}` },
			want: "install and start the Mosquitto broker add-on"},
		{name: "500", reply: func(int) (int, string) { return 500, `{"result":"error","message":"internal"}` }, want: "HTTP 500: internal"},
		{name: "unreachable", down: true, want: "supervisor unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.settings()
			e.calls.Store(0)
			e.reply.Store(&c.reply)
			if c.down {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				s.supervisor = "http://" + l.Addr().String()
				l.Close()
			}
			var errb syncBuffer
			_, err := s.load(context.Background(), newFlags("run", io.Discard), "", &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", err, c.want)
			}
			if !c.down && e.calls.Load() != 3 {
				t.Errorf("asked %d times, want 3 (the retry's attempts)", e.calls.Load())
			}
			if !strings.Contains(errb.String(), "retrying") {
				t.Errorf("retries not logged: %s", errb.String())
			}
		})
	}
	e.reply.Store(nil)
}

// --addon=false keeps file mode even where the Supervisor's token is set,
// and the image's fallback config is used when the -c file is missing.
func TestRunConfigSelection(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "evbridge.yaml")
	if err := os.WriteFile(file, []byte("log:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fallback := filepath.Join(dir, "defaults.yaml")
	if err := os.WriteFile(fallback, []byte("log:\n  level: error\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (string, string, error) {
		fs := newFlags("run", io.Discard)
		path := fs.String("c", "", "")
		s := addRunFlags(fs)
		s.getenv = func(k string) string {
			if k == supervisor.TokenEnv {
				return "tok"
			}
			return ""
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var errb syncBuffer
		cfg, err := s.load(context.Background(), fs, *path, &errb)
		if err != nil {
			return "", errb.String(), err
		}
		return cfg.Source, errb.String(), nil
	}
	if src, _, err := load("--addon=false", "-c", file); err != nil || src != file {
		t.Errorf("--addon=false: %s, %v", src, err)
	}
	missing := filepath.Join(dir, "nope.yaml")
	if src, log, err := load("--addon=false", "-c", missing, "--fallback", fallback); err != nil || src != fallback || !strings.Contains(log, "no config file") {
		t.Errorf("fallback: %s, %v, log %q", src, err, log)
	}
	if _, _, err := load("--addon=false", "-c", missing); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file without fallback: %v", err)
	}
	// With the token and no --addon flag, add-on mode: options from --data.
	if _, _, err := load("--data", dir); err == nil || !strings.Contains(err.Error(), "read add-on options") {
		t.Errorf("token present: %v", err)
	}
}
