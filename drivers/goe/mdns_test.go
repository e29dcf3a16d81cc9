package goe

import (
	"context"
	"fmt"
	"github.com/evbridge/evbridge/drivers/httpsim"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"golang.org/x/sys/unix"
)

func TestAdvertiseRefusesWhatCannotBeReached(t *testing.T) {
	s := NewSimulator(SimConfig{})
	if _, err := s.Advertise(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("stopped simulator: %v", err)
	}
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Advertise(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("loopback simulator: %v", err)
	}
	if ips, err := httpsim.AdvertisedIPs(net.ParseIP("192.0.2.7"), nil); err != nil || len(ips) != 1 || ips[0] != "192.0.2.7" {
		t.Fatalf("bound address: %v %v", ips, err)
	}
	// Bound to all interfaces: their addresses, never loopback ones.
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no lo interface")
	}
	if ips, err := httpsim.AdvertisedIPs(net.IPv4zero, []net.Interface{*lo}); err == nil {
		t.Fatalf("announced loopback addresses %v", ips)
	}
}

// TestAdvertiseAnnouncesOverMDNS advertises inside a network namespace
// of its own (a veth pair with both ends in it) and browses there.
func TestAdvertiseAnnouncesOverMDNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	ns := fmt.Sprintf("evbg-%d-mdns", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run() // left by a crashed run with this pid
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ip("link", "add", "sim0", "netns", ns, "type", "veth", "peer", "name", "obs0", "netns", ns)
	ip("-n", ns, "addr", "add", "10.86.0.1/24", "dev", "sim0")
	ip("-n", ns, "addr", "add", "10.86.0.2/24", "dev", "obs0")
	ip("-n", ns, "link", "set", "sim0", "up")
	ip("-n", ns, "link", "set", "obs0", "up")

	s := NewSimulator(SimConfig{Serial: "246810"})
	defer s.Close()
	entries := make(chan *zeroconf.ServiceEntry, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err := inNetns(ns, func() error {
		if err := s.Start(ctx, "10.86.0.1:80"); err != nil {
			return err
		}
		sim0, err := net.InterfaceByName("sim0")
		if err != nil {
			return err
		}
		if _, err := s.Advertise(ctx, []net.Interface{*sim0}); err != nil {
			return err
		}
		obs0, err := net.InterfaceByName("obs0")
		if err != nil {
			return err
		}
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{*obs0}), zeroconf.SelectIPTraffic(zeroconf.IPv4))
		if err != nil {
			return err
		}
		return r.Browse(ctx, MDNSService, "local.", entries)
	})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := <-entries
	if !ok {
		t.Fatal("nothing announced")
	}
	cancel()
	for range entries { // zeroconf closes the channel once ctx ends
	}
	if e.Instance != MDNSInstance("246810") || e.Port != 80 || e.HostName != MDNSHost("246810")+".local." ||
		len(e.AddrIPv4) != 1 || !e.AddrIPv4[0].Equal(net.IPv4(10, 86, 0, 1)) {
		t.Fatalf("announced %+v", e)
	}
}

// inNetns runs fn on an OS thread switched into namespace ns; the thread
// ends with its goroutine, never returning to the host's namespace.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}
