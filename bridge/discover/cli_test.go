package discover

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// RunCLI on loopback only: every run here has --no-mdns, since mDNS
// would query the host's real networks. RunCLI with mDNS runs in a
// namespace in TestVLANNeedsProbeOrStaticAddress.

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := RunCLI(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunCLIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"scan"}, "unexpected argument"},
		{[]string{"--timeout", "0s", "--no-mdns", "--subnet", "127.0.0.1"}, "--timeout"},
		{[]string{"--max-prefix", "40", "--no-mdns", "--subnet", "127.0.0.1"}, "--max-prefix 40"},
		{[]string{"--no-mdns", "--subnet", "10.0.0.0/16"}, "probe smaller subnets, or allow it with --max-prefix"},
		{[]string{"--no-mdns", "--subnet", "10.0.0.0/20", "--max-prefix", "21"}, "4096 addresses"},
		{[]string{"--no-mdns", "--subnet", "my-lan"}, "want a CIDR"},
		{[]string{"--no-mdns", "--subnet", "127.0.0.1", "--iface", "nosuch0"}, "--iface nosuch0"},
		{[]string{"--no-mdns"}, "nothing to do"},
	} {
		code, out, errOut := runCLI(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.msg) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.msg)
		}
	}
	if code, _, errOut := runCLI(t, "-h"); code != ExitFound || !strings.Contains(errOut, "usage: evbridge discover") {
		t.Errorf("-h: exit %d, %q", code, errOut)
	}
}

func TestRunCLIProbesLoopback(t *testing.T) {
	for _, a := range []string{"127.77.2.2:80", "127.77.2.3:502"} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Skipf("cannot listen on %s (ports below 1024 need root): %v", a, err)
		}
		ln.Close()
	}
	startGoe(t, nil, "", "127.77.2.2:80", "CLI-G", false)
	startAlfen(t, nil, "", "127.77.2.3:502", "CLI-A")

	code, out, errOut := runCLI(t, "--no-mdns", "--json", "--subnet", "127.77.2.0/29")
	if code != ExitFound {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var fs []Found
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) != 2 ||
		fs[0].Serial != "CLI-G" || fs[1].Serial != "CLI-A" || fs[1].Address != "127.77.2.3:502" {
		t.Fatalf("json: %v\n%s", err, out)
	}

	code, out, _ = runCLI(t, "--no-mdns", "--subnet", "127.77.2.0/29")
	if code != ExitFound || !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "name: goe_cli_g") ||
		!strings.Contains(out, `address: "127.77.2.3"`) {
		t.Fatalf("table and snippet: exit %d\n%s", code, out)
	}

	code, out, errOut = runCLI(t, "--no-mdns", "--json", "--subnet", "127.77.3.0/30")
	if code != ExitNone || strings.TrimSpace(out) != "[]" || !strings.Contains(errOut, "nothing found") {
		t.Fatalf("nothing there: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
