package discover

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// A netLab is a set of network namespaces joined by veth pairs that one
// test creates and always removes. Tests send traffic only inside them
// (or to 127.0.0.0/8): the host's own namespace is never touched, not
// even by one end of a veth.
//
// Code runs "inside" a namespace on an OS thread switched into it with
// setns(2) (lab.in): sockets created on that thread belong to the
// namespace and stay there, whichever goroutine uses them later. So the
// simulators' listeners and mDNS sockets are created there, and every
// outgoing connection of discovery goes through lab.dialer.
type netLab struct {
	t    testing.TB
	base string
	mu   sync.Mutex
	n    int
}

const labPrefix = "evbd-"

var labSeq atomic.Int64

// newLab returns a lab, or skips the test saying why namespaces cannot
// be made here.
func newLab(t testing.TB) *netLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("network namespace tests need Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root (CI runs them as root); skipping")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace tests need iproute2's ip command: " + err.Error())
	}
	removeStaleLabs()
	l := &netLab{t: t, base: fmt.Sprintf("%s%d-%d", labPrefix, os.Getpid(), labSeq.Add(1))}
	probe := l.base + "-probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespaces here (%v: %s); skipping", err, strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
	return l
}

// removeStaleLabs deletes namespaces left by test processes that died.
func removeStaleLabs() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), labPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

// ns creates a namespace with loopback up; it is deleted at cleanup.
func (l *netLab) ns(name string) string {
	l.t.Helper()
	l.mu.Lock()
	l.n++
	full := fmt.Sprintf("%s-%d%s", l.base, l.n, name)
	l.mu.Unlock()
	l.ip("netns", "add", full)
	l.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", full).Run() })
	l.ip("-n", full, "link", "set", "lo", "up")
	return full
}

// link joins namespaces a and b with a veth pair (ifA in a with cidrA,
// ifB in b with cidrB); a cidr may be "" for no address.
func (l *netLab) link(a, ifA, cidrA, b, ifB, cidrB string) {
	l.t.Helper()
	l.ip("link", "add", ifA, "netns", a, "type", "veth", "peer", "name", ifB, "netns", b)
	for _, e := range []struct{ ns, ifc, cidr string }{{a, ifA, cidrA}, {b, ifB, cidrB}} {
		if e.cidr != "" {
			l.ip("-n", e.ns, "addr", "add", e.cidr, "dev", e.ifc)
		}
		l.ip("-n", e.ns, "link", "set", e.ifc, "up")
	}
}

// ip runs the ip command and fails the test if it fails.
func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// sysctl sets a sysctl inside ns.
func (l *netLab) sysctl(ns, key, value string) {
	l.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+value).CombinedOutput(); err != nil {
		// Without the sysctl binary, write /proc/sys from inside.
		path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
		if err2 := inNetns(ns, func() error { return os.WriteFile(path, []byte(value), 0o644) }); err2 != nil {
			l.t.Fatalf("sysctl %s in %s: %v (%s); %v", key, ns, err, out, err2)
		}
	}
}

// in runs fn on a thread inside ns.
func (l *netLab) in(ns string, fn func() error) {
	l.t.Helper()
	if err := inNetns(ns, fn); err != nil {
		l.t.Fatalf("in %s: %v", ns, err)
	}
}

// inNetns runs fn on an OS thread switched into the named namespace. The
// thread is never switched back: it stays locked and ends with its
// goroutine, so no other goroutine ever runs in the wrong namespace.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// dialer returns an Options.Dial that connects from inside ns.
func (l *netLab) dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns, func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// browse runs Browse from inside ns, dialing from there too, and
// returns the sorted finds.
func (l *netLab) browse(ctx context.Context, ns string, o Options) []Found {
	l.t.Helper()
	o.Dial = l.dialer(ns)
	var ch <-chan Found
	l.in(ns, func() (err error) {
		ch, err = Browse(ctx, o)
		return err
	})
	var out []Found
	for f := range ch {
		out = append(out, f)
	}
	sortFound(out)
	return out
}
