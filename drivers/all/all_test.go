package all

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Every simulator that has a driver of the same name is read by that
// driver with its default options: the standalone simulators that
// `evbridge sim` and the demo run really speak their driver's protocol.
func TestEverySimulatorWithItsDriver(t *testing.T) {
	sims := charger.Simulators()
	if len(sims) < 5 {
		t.Fatalf("only %d simulators registered", len(sims))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, sim := range sims {
		d, ok := charger.Default.Lookup(sim.Name)
		if !ok || sim.Name == "ocpp" || sim.Name == "keba_udp" {
			// ocpp's simulator is a charge point that dials a central
			// system; drivers/ocpp and bridge test it that way. keba_udp's
			// answers go to UDP port 7090 as a station's do, a port that
			// other test binaries may hold at the same moment:
			// drivers/keba runs it where it owns that port.
			continue
		}
		t.Run(sim.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan string, 1)
			go func() { _ = sim.Run(ctx, "127.0.0.1:0", func(a string) { ready <- a }) }()
			var addr string
			select {
			case addr = <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("simulator did not start")
			}
			var opts any
			if d.NewOptions != nil {
				opts = d.NewOptions()
				if sim.DriverOptions != nil {
					sim.DriverOptions(opts)
				}
			}
			dev, err := d.New(charger.Settings{Name: "t", Address: addr, Timeout: 3 * time.Second, MaxCurrent: 16}, opts, log)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := dev.(charger.Closer); ok {
				defer c.Close()
			}
			var st charger.State
			deadline := time.Now().Add(15 * time.Second)
			for {
				pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
				st, err = dev.Poll(pctx)
				pcancel()
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if st.Status == "" || st.Status == charger.StatusUnknown {
				t.Errorf("status %q from a simulator with a car", st.Status)
			}
			if st.Brand == "" {
				t.Errorf("no brand in %+v", st)
			}
		})
	}
}
