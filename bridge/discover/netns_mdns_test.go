package discover

import (
	"context"
	"encoding/json"
	"github.com/evbridge/evbridge/drivers/openevse"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Discovery over real network paths between namespaces. Each test builds
// its own topology; see netLab.

func TestMDNSFindsAdvertisedDevicesInAnotherNamespace(t *testing.T) {
	lab := newLab(t)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.79.0.1/24", dev, "dev0", "10.79.0.2/24")
	for _, a := range []string{"10.79.0.10", "10.79.0.11", "10.79.0.12", "10.79.0.13", "10.79.0.14"} {
		lab.ip("-n", dev, "addr", "add", a+"/24", "dev", "dev0")
	}
	startGoe(t, lab, dev, "10.79.0.10:80", "GOE-A", true)
	startAlfen(t, lab, dev, "10.79.0.11:502", "ACE-B")
	advertise(t, lab, dev, "ALF_1000-ACE-B", "_alfen._tcp", "alfen-ace-b", "10.79.0.11", 443, nil)
	serveHTTP(t, lab, dev, "10.79.0.12:80", openEVSE("AA:BB:CC:DD:EE:12"))
	txt := []string{"type=openevse_wifi_v1", "version=4.1.0", "id=8c4b14ee12"}
	advertise(t, lab, dev, "openevse-ee12", "_openevse._tcp", "openevse-ee12", "10.79.0.12", 80, txt)
	advertise(t, lab, dev, "openevse-ee12", "_http._tcp", "openevse-ee12", "10.79.0.12", 80, nil)
	startGoe(t, lab, dev, "10.79.0.13:80", "GOE-SILENT", false) // not announced
	serveHTTP(t, lab, dev, "10.79.0.14:80", shellyPro3EM("C8F09E0000AA"))
	advertise(t, lab, dev, "shellypro3em-c8f09e0000aa", "_shelly._tcp", "shellypro3em-c8f09e0000aa", "10.79.0.14", 80, []string{"gen=2"})

	fs := lab.browse(t.Context(), cli, Options{Timeout: 2 * time.Second})
	want := []Found{
		{Address: "10.79.0.10:80", Driver: "goe", Brand: "go-e", Model: "go-eCharger", Serial: "GOE-A", Firmware: "060.1",
			Kind: KindCharger, FoundBy: ByMDNS, Service: "go-eCharger-GOE-A._go-e_go-eCharger._tcp", Hostname: "go-echarger-GOE-A.local"},
		{Address: "10.79.0.11:502", Driver: "alfen", Brand: "Alfen", Model: "NG910", Serial: "ACE-B", Firmware: "6.3.0-4203",
			Kind: KindCharger, FoundBy: ByMDNS, Service: "ALF_1000-ACE-B._alfen._tcp", Hostname: "alfen-ace-b.local"},
		{Address: "10.79.0.12:80", Driver: "openevse", Brand: "OpenEVSE", Model: "OpenEVSE (openevse_wifi_v1)",
			Serial: "AA:BB:CC:DD:EE:12", Firmware: "4.1.0 (EVSE D7.1.2)", Kind: KindCharger, FoundBy: ByMDNS},
		{Address: "10.79.0.14:80", Driver: "shelly", Brand: "Shelly", Model: "Pro3EM (SPEM-003CEBEU)", Serial: "C8F09E0000AA",
			Firmware: "1.0.3", Kind: KindMeter, FoundBy: ByMDNS, Service: "shellypro3em-c8f09e0000aa._shelly._tcp",
			Hostname: "shellypro3em-c8f09e0000aa.local"},
	}
	if len(fs) != len(want) {
		t.Fatalf("found %d devices, want %d:\n%s", len(fs), len(want), dump(fs))
	}
	for i, w := range want {
		got := fs[i]
		if w.Driver == "openevse" { // announced twice; either service may win
			if got.Service != "openevse-ee12._openevse._tcp" && got.Service != "openevse-ee12._http._tcp" {
				t.Errorf("openevse service %q", got.Service)
			}
			got.Service, got.Hostname = "", ""
		}
		if got != w {
			t.Errorf("find %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}

func TestVLANNeedsProbeOrStaticAddress(t *testing.T) {
	lab := newLab(t)
	near, cli, rtr, far := lab.ns("near"), lab.ns("cli"), lab.ns("rtr"), lab.ns("far")
	lab.link(cli, "lan0", "10.80.1.1/24", near, "eth0", "10.80.1.10/24")
	lab.link(cli, "up0", "10.80.2.1/24", rtr, "in0", "10.80.2.254/24")
	lab.link(rtr, "out0", "10.80.3.254/24", far, "eth0", "10.80.3.10/24")
	lab.ip("-n", far, "addr", "add", "10.80.3.11/24", "dev", "eth0")
	lab.sysctl(rtr, "net.ipv4.ip_forward", "1") // routing, and no mDNS reflector
	lab.ip("-n", cli, "route", "add", "10.80.3.0/24", "via", "10.80.2.254")
	lab.ip("-n", far, "route", "add", "default", "via", "10.80.3.254")
	startGoe(t, lab, near, "10.80.1.10:80", "NEAR", true)
	startGoe(t, lab, far, "10.80.3.10:80", "FAR", true)
	startAlfen(t, lab, far, "10.80.3.11:502", "FAR-ALFEN")
	advertise(t, lab, far, "ALF_1000-FAR", "_alfen._tcp", "alfen-far", "10.80.3.11", 443, nil)
	o := Options{Timeout: 2 * time.Second, Dial: lab.dialer(cli)}

	t.Run("mdns finds only the near segment", func(t *testing.T) {
		fs := lab.browse(t.Context(), cli, o)
		if len(fs) != 1 || fs[0].Serial != "NEAR" || fs[0].Address != "10.80.1.10:80" {
			t.Fatalf("want only NEAR at 10.80.1.10:80:\n%s", dump(fs))
		}
	})
	t.Run("probing the far subnet finds both", func(t *testing.T) {
		start := time.Now()
		fs, err := Probe(t.Context(), "10.80.3.0/24", o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("probed 10.80.3.0/24 through the router in %s", time.Since(start))
		got := byAddr(fs)
		if len(fs) != 2 || got["10.80.3.10:80"].Serial != "FAR" || got["10.80.3.11:502"].Serial != "FAR-ALFEN" {
			t.Fatalf("want FAR and FAR-ALFEN:\n%s", dump(fs))
		}
		for _, f := range fs {
			if f.FoundBy != ByProbe {
				t.Errorf("%s found by %q", f.Address, f.FoundBy)
			}
		}
	})
	t.Run("static address", func(t *testing.T) {
		f, err := Identify(t.Context(), "goe", "10.80.3.10", o)
		if err != nil || f.Serial != "FAR" || f.FoundBy != ByStatic || f.Address != "10.80.3.10:80" {
			t.Fatalf("identify 10.80.3.10: %+v, %v", f, err)
		}
	})
	t.Run("evbridge discover in the namespace", func(t *testing.T) {
		code, out, errOut := runCLIIn(t, cli, "--json", "--timeout", "2s", "--subnet", "10.80.3.0/24")
		if code != ExitFound {
			t.Fatalf("exit %d, stderr: %s", code, errOut)
		}
		var fs []Found
		if err := json.Unmarshal([]byte(out), &fs); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		got := byAddr(fs)
		if len(fs) != 3 || got["10.80.1.10:80"].FoundBy != ByMDNS || got["10.80.3.10:80"].FoundBy != ByProbe ||
			got["10.80.3.11:502"].Serial != "FAR-ALFEN" {
			t.Fatalf("want NEAR by mdns, FAR and FAR-ALFEN by probe:\n%s", out)
		}
		if code, _, errOut := runCLIIn(t, cli, "--subnet", "10.0.0.0/16"); code != ExitUsage ||
			!strings.Contains(errOut, "--max-prefix") {
			t.Fatalf("a /16: exit %d, stderr %q", code, errOut)
		}
	})
}

// runCLIIn runs `evbridge discover args` (RunCLI in this test binary)
// inside ns and returns its exit status and output.
func runCLIIn(t *testing.T, ns string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperRunCLI$")
	cmd.Env = append(os.Environ(), "EVBRIDGE_TEST_CLI_ARGS="+strings.Join(args, "\x1f"))
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("run helper: %v", err)
	}
	return code, out.String(), errOut.String()
}

// TestHelperRunCLI is not a test: runCLIIn runs it in a namespace.
func TestHelperRunCLI(t *testing.T) {
	args, ok := os.LookupEnv("EVBRIDGE_TEST_CLI_ARGS")
	if !ok {
		t.Skip("helper process of runCLIIn")
	}
	os.Exit(RunCLI(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func TestTrackerFollowsSimulatorToNewAddress(t *testing.T) {
	lab := newLab(t)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.81.0.1/24", dev, "dev0", "10.81.0.2/24")
	lab.ip("-n", dev, "addr", "add", "10.81.0.10/24", "dev", "dev0")
	sim := startGoe(t, lab, dev, "10.81.0.10:80", "MOVER", true)
	tr := NewTracker([]Known{{Name: "garage", Driver: "goe", Address: "10.81.0.10", Serial: "MOVER"},
		{Name: "carport", Driver: "goe", Address: "10.81.0.99", Serial: "OTHER"}}, nil)
	o := Options{Timeout: 2 * time.Second, Dial: lab.dialer(cli)}
	observe := func(fs []Found) []Moved {
		var ms []Moved
		for _, f := range fs {
			if m, ok := tr.Observe(f); ok {
				ms = append(ms, m)
			}
		}
		return ms
	}
	fs := lab.browse(t.Context(), cli, o)
	if len(fs) != 1 || fs[0].Address != "10.81.0.10:80" {
		t.Fatalf("before the move:\n%s", dump(fs))
	}
	if ms := observe(fs); len(ms) != 0 {
		t.Fatalf("moves reported before the move: %+v", ms)
	}

	// The DHCP lease changes: the box leaves the network and comes back
	// at another address.
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	lab.ip("-n", dev, "addr", "del", "10.81.0.10/24", "dev", "dev0")
	lab.ip("-n", dev, "addr", "add", "10.81.0.20/24", "dev", "dev0")
	lab.in(dev, func() error {
		if err := sim.Start(t.Context(), "10.81.0.20:80"); err != nil {
			return err
		}
		stop, err := sim.Advertise(t.Context(), nil)
		t.Cleanup(func() {
			if stop != nil {
				stop()
			}
		})
		return err
	})
	if _, err := Identify(t.Context(), "goe", "10.81.0.10", o); err == nil {
		t.Fatal("the old static address still answers")
	}
	fs = lab.browse(t.Context(), cli, o)
	want := Moved{Name: "garage", From: "10.81.0.10", To: "10.81.0.20", By: ByMDNS}
	if ms := observe(fs); len(ms) != 1 || ms[0] != want {
		t.Fatalf("after the move: want %+v, got %+v from\n%s", want, ms, dump(fs))
	}
	if k, _ := tr.Known("garage"); k.Address != "10.81.0.20" {
		t.Fatalf("tracker still has %q", k.Address)
	}
	if ms := observe(fs); len(ms) != 0 {
		t.Fatalf("the move is reported twice: %+v", ms)
	}

	// Probing finds it too, and a tracker that did not see the mDNS find
	// follows it by probe.
	tr = NewTracker([]Known{{Name: "garage", Driver: "goe", Address: "10.81.0.10:80", Serial: "MOVER"}}, nil)
	fs, err := Probe(t.Context(), "10.81.0.0/24", o)
	if err != nil {
		t.Fatal(err)
	}
	want = Moved{Name: "garage", From: "10.81.0.10:80", To: "10.81.0.20:80", By: ByProbe}
	if ms := observe(fs); len(ms) != 1 || ms[0] != want {
		t.Fatalf("by probe: want %+v, got %+v from\n%s", want, ms, dump(fs))
	}
}

// dump formats finds for failure messages.
func dump(fs []Found) string {
	var b strings.Builder
	for _, f := range fs {
		j, _ := json.Marshal(f)
		b.Write(j)
		b.WriteByte('\n')
	}
	if len(fs) == 0 {
		b.WriteString("(nothing)\n")
	}
	return b.String()
}

// The OpenEVSE simulator announces itself like the device (service type,
// TXT, host name) and is found by mDNS from another namespace, with the
// identity read from the simulator itself.
func TestOpenEVSESimulatorAnnouncesItself(t *testing.T) {
	lab := newLab(t)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.78.0.1/24", dev, "dev0", "10.78.0.2/24")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim := openevse.NewSimulator(openevse.SimConfig{})
	lab.in(dev, func() error {
		if err := sim.Start(ctx, "10.78.0.2:80"); err != nil {
			return err
		}
		stop, err := sim.Advertise(ctx, nil)
		if err != nil {
			return err
		}
		t.Cleanup(stop)
		return nil
	})
	t.Cleanup(func() { _ = sim.Close() })
	fs := lab.browse(t.Context(), cli, Options{Timeout: 2 * time.Second})
	if len(fs) != 1 || fs[0].Driver != "openevse" || fs[0].Address != "10.78.0.2:80" || fs[0].FoundBy != ByMDNS ||
		fs[0].Serial == "" || !fs[0].Verified() || fs[0].Service != "openevse-a7d4._openevse._tcp" {
		t.Fatalf("found:\n%s", dump(fs))
	}
}
