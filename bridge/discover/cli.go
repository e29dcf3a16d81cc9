package discover

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// Exit codes of RunCLI.
const (
	ExitFound = 0
	ExitNone  = 1
	ExitUsage = 2
)

// listFlag is a repeatable flag that also takes comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

const cliUsage = `usage: evbridge discover [flags]

Looks for chargers and meters: listens for mDNS announcements, and probes
the subnets given with --subnet (only those; nothing is probed otherwise).
Every device is identified by reading its serial, model and firmware.
Prints a table and a config snippet, or JSON with --json.
Exit status: 0 something found, 1 nothing found, 2 usage error.

flags:
`

// RunCLI is `evbridge discover`: args are the arguments after the command
// name. It returns the exit status (ExitFound, ExitNone, ExitUsage).
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("discover", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, cliUsage)
		fl.PrintDefaults()
	}
	var subnets, ifaceNames listFlag
	fl.Var(&subnets, "subnet", "probe this subnet (CIDR such as 192.168.1.0/24); repeatable")
	timeout := fl.Duration("timeout", DefaultTimeout, "how long to listen for mDNS announcements")
	asJSON := fl.Bool("json", false, "print a JSON array instead of the table and config snippet")
	maxPrefix := fl.Int("max-prefix", DefaultMaxPrefix, "largest subnet --subnet accepts, as a prefix length")
	fl.Var(&ifaceNames, "iface", "network interface for mDNS; repeatable (default: all)")
	noMDNS := fl.Bool("no-mdns", false, "do not listen for mDNS announcements")
	verbose := fl.Bool("v", false, "log what discovery does, to stderr")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitFound
		}
		return ExitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "evbridge discover: "+format+"\n", a...)
		return ExitUsage
	}
	switch {
	case fl.NArg() > 0:
		return usage("unexpected argument %q (flags only; see --help)", fl.Arg(0))
	case *timeout <= 0 || *timeout > 10*time.Minute:
		return usage("--timeout %s: want a duration between 1ms and 10m, such as 5s", *timeout)
	case *maxPrefix < 8 || *maxPrefix > 32:
		return usage("--max-prefix %d: want a prefix length between 8 and 32", *maxPrefix)
	case *noMDNS && len(subnets) == 0:
		return usage("--no-mdns without --subnet leaves nothing to do")
	}
	for _, s := range subnets {
		if _, err := ParseSubnet(s, *maxPrefix); err != nil {
			if errors.Is(err, ErrSubnetTooLarge) {
				return usage("--subnet %s: %v; probe smaller subnets, or allow it with --max-prefix", s, err)
			}
			return usage("--subnet: %v", err)
		}
	}
	o := Options{Timeout: *timeout, MaxPrefix: *maxPrefix}
	for _, n := range ifaceNames {
		ifi, err := net.InterfaceByName(n)
		if err != nil {
			return usage("--iface %s: %v", n, err)
		}
		o.Ifaces = append(o.Ifaces, *ifi)
	}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	fs, errs := runDiscovery(ctx, o, subnets, !*noMDNS)
	for _, err := range errs {
		fmt.Fprintf(stderr, "evbridge discover: %v\n", err)
	}
	if *asJSON {
		if err := WriteJSON(stdout, fs); err != nil {
			fmt.Fprintf(stderr, "evbridge discover: %v\n", err)
		}
	} else if len(fs) > 0 {
		_ = WriteTable(stdout, fs)
		fmt.Fprintf(stdout, "\n# For config.yaml:\n%s", ConfigSnippet(fs))
	}
	if len(fs) == 0 {
		fmt.Fprintln(stderr, "evbridge discover: nothing found. mDNS does not cross VLANs or routers:"+
			" name the chargers' subnet with --subnet, or configure their addresses.")
		return ExitNone
	}
	return ExitFound
}

// runDiscovery browses (if mdns) and probes every subnet at once, and
// merges the finds, mDNS first.
func runDiscovery(ctx context.Context, o Options, subnets []string, mdns bool) ([]Found, []error) {
	var (
		mu     sync.Mutex
		errs   []error
		lists  = make([][]Found, len(subnets)+1)
		wg     sync.WaitGroup
		record = func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	)
	if mdns {
		wg.Go(func() {
			fs, err := BrowseAll(ctx, o)
			if err != nil {
				record(err)
			}
			lists[0] = fs
		})
	}
	for i, s := range subnets {
		wg.Go(func() {
			fs, err := Probe(ctx, s, o)
			if err != nil {
				record(err)
			}
			lists[i+1] = fs
		})
	}
	wg.Wait()
	return Merge(lists...), errs
}
