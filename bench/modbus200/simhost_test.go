package modbus200

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/evbridge/evbridge/drivers/alfen"
)

// simHostEnv makes the test binary a simulator host instead of running
// tests: it serves that many Alfen simulators on loopback, prints
// "ADDR host:port" for each, then "READY", and runs until its stdin
// closes. The benchmark starts it so that its own process holds the
// bridge alone.
const simHostEnv = "EVBRIDGE_SIMHOST_ALFEN"

func TestMain(m *testing.M) {
	if n := os.Getenv(simHostEnv); n != "" {
		os.Exit(runSimHost(n))
	}
	os.Exit(m.Run())
}

func runSimHost(count string) int {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a count\n", simHostEnv, count)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	for i := range n {
		s := alfen.NewSimulator(alfen.SimConfig{Serial: fmt.Sprintf("SIM%05d", i)})
		if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer s.Close()
		s.Plug(true) // the car charges at the safe current: readings move
		fmt.Fprintln(out, "ADDR", s.Addr())
	}
	fmt.Fprintln(out, "READY")
	out.Flush()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop() }()
	<-ctx.Done()
	return 0
}

// startSimHost runs n Alfen simulators in a child process and returns
// their addresses; the child ends with the benchmark.
func startSimHost(b *testing.B, n int) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", simHostEnv, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	var addrs []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "READY" {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return addrs
		}
		if a, ok := strings.CutPrefix(line, "ADDR "); ok {
			addrs = append(addrs, a)
		}
	}
	b.Fatalf("simulator host ended after %d simulators: %v", len(addrs), sc.Err())
	return nil
}
