package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/bridgetest"
	"github.com/evbridge/evbridge/drivers/goe"
)

const procWait = 20 * time.Second

// daemon is the image's binary running as in the container: `evbridge
// run -c /data/config.yaml`, with a temporary directory for /data.
type daemon struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startDaemon(t *testing.T, bin, data string) *daemon {
	t.Helper()
	d := &daemon{logs: &lockedBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, "run", "-c", filepath.Join(data, "config.yaml"))
	d.cmd.Dir = data
	d.cmd.Env = []string{"PATH=/usr/bin:/bin"}
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// stop sends SIGTERM, as `docker stop` does, and wants a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("evbridge exited with %v after SIGTERM:\n%s", err, d.logs.String())
		}
	case <-time.After(procWait):
		t.Fatalf("evbridge did not exit after SIGTERM:\n%s", d.logs.String())
	}
}

func online(m bridgetest.Message) bool { return string(m.Payload) == "online" }

// What users change at runtime survives a restart of the container's
// process: a charger added over MQTT (charger_add, which is
// Bridge.AddCharger) is in /data/evbridge-state.json after SIGTERM and
// is back after the restart. A corrupt state file is set aside and
// reported, and evbridge still starts.
func TestImageStateAcrossRestart(t *testing.T) {
	bin, _ := imageBinary(t)
	broker := bridgetest.StartMosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := goe.NewSimulator(goe.SimConfig{Serial: "300001", Plugged: true})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	data := t.TempDir()
	config := fmt.Sprintf("mqtt:\n  broker: %s\nhttp:\n  listen: \"\"\ndiscovery:\n  mdns: false\nchargers: []\n", broker.URL())
	if err := os.WriteFile(filepath.Join(data, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := bridgetest.Subscribe(t, broker.URL(), "evbridge/#")

	d := startDaemon(t, bin, data)
	sub.WaitFor("evbridge/bridge/state", procWait, online)
	start := time.Now()
	sub.Publish("evbridge/bridge/request/charger_add", false,
		fmt.Sprintf(`{"charger":{"name":"drive","driver":"goe","address":%q,"poll_interval":"200ms"}}`, sim.Addr()))
	if m, ok := sub.WaitForAfter(start, "evbridge/bridge/response/charger_add", procWait, nil); !ok || !strings.Contains(string(m.Payload), `"ok"`) {
		t.Fatalf("charger_add: %s\n%s", m.Payload, d.logs.String())
	}
	sub.WaitFor("evbridge/drive/availability", procWait, online)
	d.stop(t)
	statePath := filepath.Join(data, "evbridge-state.json")
	if b, err := os.ReadFile(statePath); err != nil || !strings.Contains(string(b), `"drive"`) {
		t.Fatalf("state file after SIGTERM: %v\n%s", err, b)
	}

	restarted := time.Now()
	d = startDaemon(t, bin, data)
	if _, ok := sub.WaitForAfter(restarted, "evbridge/drive/availability", procWait, online); !ok {
		t.Fatalf("the added charger did not come back after the restart:\n%s", d.logs.String())
	}
	d.stop(t)

	if err := os.WriteFile(statePath, []byte("{\"version\":1,\"sect"), 0o644); err != nil {
		t.Fatal(err)
	}
	restarted = time.Now()
	d = startDaemon(t, bin, data)
	if _, ok := sub.WaitForAfter(restarted, "evbridge/bridge/state", procWait, online); !ok {
		t.Fatalf("evbridge did not start with a corrupt state file:\n%s", d.logs.String())
	}
	d.stop(t)
	aside, _ := filepath.Glob(statePath + ".corrupt-*")
	if len(aside) != 1 || !strings.Contains(d.logs.String(), "state file is corrupt") {
		t.Errorf("corrupt state file: set aside %v; log:\n%s", aside, d.logs.String())
	}
}
