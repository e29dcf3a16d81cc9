// Package bridgetest starts real MQTT brokers for tests: Mosquitto from the
// system (installed by .ci/run) on a free loopback port with its own config
// file, so integration tests run against the broker users run.
package bridgetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Mosquitto is a broker process owned by one test.
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	// Addr is host:port of the listener, stable across Restart.
	Addr string
	// TLSAddr is host:port of the TLS listener, when one was asked for.
	TLSAddr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *bytes.Buffer
}

// MosquittoOptions adds broker settings; zero means anonymous access.
type MosquittoOptions struct {
	// Users maps user name to password; when set, anonymous access is off.
	Users map[string]string
	// TLS adds a second listener speaking MQTT over TLS with these files.
	TLS *TLSFiles
}

// TLSFiles are PEM files for a TLS listener.
type TLSFiles struct{ CA, Cert, Key string }

// StartMosquitto starts Mosquitto on a free 127.0.0.1 port and stops it when
// the test ends. The test fails if Mosquitto is not installed: CI installs
// it, and skipping would hide missing coverage.
func StartMosquitto(t testing.TB, opts ...MosquittoOptions) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("mosquitto not found: install it (apt-get install -y mosquitto) or run .ci/run")
	}
	dir := t.TempDir()
	port := FreePort(t)
	m := &Mosquitto{t: t, bin: bin, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	conf := fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\npersistence false\nlog_dest stderr\n", port)
	if os.Geteuid() == 0 {
		// Mosquitto started as root drops to user "mosquitto", which cannot
		// read the test's private temporary files.
		conf += "user root\n"
	}
	if len(opts) > 0 && opts[0].TLS != nil {
		tp := FreePort(t)
		m.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tp)
		conf += fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", tp, opts[0].TLS.CA, opts[0].TLS.Cert, opts[0].TLS.Key)
	}
	if len(opts) > 0 && len(opts[0].Users) > 0 {
		pwfile := filepath.Join(dir, "passwd")
		var lines bytes.Buffer
		for u, p := range opts[0].Users {
			fmt.Fprintf(&lines, "%s:%s\n", u, p)
		}
		if err := os.WriteFile(pwfile, lines.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// mosquitto_passwd -U hashes the plain passwords in place.
		if out, err := exec.Command("mosquitto_passwd", "-U", pwfile).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		conf += "allow_anonymous false\npassword_file " + pwfile + "\n"
	} else {
		conf += "allow_anonymous true\n"
	}
	m.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// TLSURL is the TLS listener's address as an MQTT URL.
func (m *Mosquitto) TLSURL() string { return "ssl://" + m.TLSAddr }

// URL is the broker address as an MQTT URL.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr }

// Start runs the broker and waits until it accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	m.logs = &bytes.Buffer{}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(m.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-m.done:
			m.t.Fatalf("mosquitto exited at start: %s", m.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	m.t.Fatalf("mosquitto did not listen on %s: %s", m.Addr, m.logs.String())
}

// Stop kills the broker (SIGKILL: clients see a dead broker, not a clean
// shutdown) and waits for it to exit.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// Restart kills the broker and starts it again on the same port.
func (m *Mosquitto) Restart() {
	m.Stop()
	m.Start()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
