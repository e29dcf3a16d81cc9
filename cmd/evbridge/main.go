// Command evbridge bridges EV chargers on the LAN to MQTT and Home
// Assistant. See README.md; `evbridge help` lists the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/evbridge/evbridge/bridge/discover"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `evbridge: local control of EV chargers over MQTT and Home Assistant

Usage:
  evbridge run -c FILE           run with a config file
  evbridge run --addon           run as a Home Assistant add-on (default when $SUPERVISOR_TOKEN is set)
  evbridge demo [flags]          embedded broker + simulated chargers + the bridge
  evbridge check-config -c FILE  check a config file; exit 1 on any error
  evbridge discover [--subnet CIDR] [--json]  find chargers (mDNS; probe a subnet)
  evbridge sim NAME --listen ADDR  run one device simulator; evbridge sim --list
  evbridge healthcheck [--url URL]  ask the running daemon's /healthz; exit 1 if unhealthy
  evbridge simulate --trace FILE  replay a PV/house trace through the solar controller
  evbridge version               print the version

Run "evbridge COMMAND -h" for a command's flags. With no command, evbridge
runs the demo.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error already explained to the user.
var errUsage = errors.New("usage")

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "demo"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, args, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args, stdout, stderr)
	case "check-config":
		err = cmdCheckConfig(args, stdout, stderr)
	case "sim":
		err = cmdSim(ctx, args, stdout, stderr)
	case "simulate":
		err = cmdSimulate(args, stdout, stderr)
	case "discover":
		return discover.RunCLI(ctx, args, stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "evbridge", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "evbridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "evbridge:", err)
		return 1
	}
}
