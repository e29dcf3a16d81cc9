package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/meter"
	"github.com/evbridge/evbridge/bridge/metrics"
	"github.com/evbridge/evbridge/drivers/ocpp"
	"github.com/evbridge/evbridge/drivers/shelly"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	mqttListen := fs.String("mqtt-listen", "127.0.0.1:1883", "address of the embedded MQTT broker")
	httpListen := fs.String("http-listen", config.DefaultHTTPListen, "address of the web UI, REST API and /metrics (empty: off)")
	sims := fs.String("sim", "goe", "comma-separated simulators to run (see evbridge sim --list)")
	count := fs.Int("chargers", 1, "how many of each simulated charger")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	simHost := fs.String("sim-host", "127.0.0.1", "address the simulated chargers listen on; a LAN address (or 0.0.0.0) lets them announce themselves over mDNS like real devices")
	ocppListen := fs.String("ocpp-listen", "127.0.0.1:8887", "address of the OCPP central system, with a simulated charge point connected and unknown charge points accepted (empty: off)")
	solarDemo := fs.Bool("solar", true, "simulate a grid meter with a 10-minute PV day, so the solar controller runs (charger mode minpv)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *count < 1 || *count > 500 {
		return fmt.Errorf("--chargers %d: expected 1..500", *count)
	}
	cfg := config.Default()
	// The demo's chargers are simulated on this machine: no need to look
	// for real ones on the network.
	cfg.Discovery.MDNS = false
	cfg.MQTT.Embedded.Listen = *mqttListen
	cfg.Log.Level = *level
	log := newLogger(cfg.Log, stderr)

	available := map[string]charger.Simulator{}
	for _, s := range charger.Simulators() {
		available[s.Name] = s
	}
	for _, name := range strings.Split(*sims, ",") {
		name = strings.TrimSpace(name)
		sim, ok := available[name]
		if !ok {
			return fmt.Errorf("--sim %q: no such simulator (have: %s)", name, simNames(available))
		}
		d, ok := charger.Default.Lookup(name)
		if !ok {
			return fmt.Errorf("simulator %q has no driver of the same name", name)
		}
		for i := 1; i <= *count; i++ {
			addr, err := startSim(ctx, sim, *simHost)
			if err != nil {
				return err
			}
			id := fmt.Sprintf("demo_%s", name)
			if *count > 1 {
				id = fmt.Sprintf("demo_%s_%d", name, i)
			}
			cc := config.Charger{Name: id, Driver: name, Address: addr, MaxCurrent: 16,
				PollInterval: d.DefaultPollInterval, Timeout: 2 * time.Second}
			if d.NewOptions != nil {
				cc.Options = d.NewOptions()
				if sim.DriverOptions != nil {
					sim.DriverOptions(cc.Options)
				}
			}
			cfg.Chargers = append(cfg.Chargers, cc)
		}
	}
	ocppLine := ""
	if *ocppListen != "" {
		if l, err := net.Listen("tcp", *ocppListen); err != nil {
			ocppLine = fmt.Sprintf("OCPP:                 off: %s is busy (pass --ocpp-listen ADDR)\n", *ocppListen)
			*ocppListen = ""
		} else {
			l.Close()
			sc := ocpp.DefaultServerConfig()
			sc.Listen, sc.Unknown = *ocppListen, "accept"
			cfg.Services = map[string]any{"ocpp": &sc}
			cfg.Chargers = append(cfg.Chargers, config.Charger{Name: "demo_ocpp", Driver: "ocpp", Address: "evbsim",
				MaxCurrent: 16, PollInterval: 2 * time.Second, Timeout: 2 * time.Second, Options: &ocpp.Options{Connector: 1}})
			ocppLine = fmt.Sprintf("OCPP central system:  ws://%s/<chargeBoxId> (point a real charger here; unknown ones are accepted)\n", *ocppListen)
		}
	}
	var bp atomic.Pointer[bridge.Bridge]
	if *solarDemo {
		addr, err := startDemoMeter(ctx, &bp)
		if err != nil {
			return err
		}
		d, _ := meter.Default.Lookup("shelly_pro3em")
		cfg.Meters = []config.Meter{{Name: "grid", Driver: d.Name, Address: addr, Scale: 1,
			PollInterval: 2 * time.Second, Timeout: 2 * time.Second, Options: d.NewOptions()}}
		cfg.Site.GridMeter, cfg.Site.PhaseLimit = "grid", 35
		for i := range cfg.Chargers {
			cfg.Chargers[i].Mode, cfg.Chargers[i].Phases = "minpv", 3
		}
	}
	m := metrics.New(version)
	b, err := bridge.New(bridge.Options{Config: cfg, Log: log, Version: version, Observer: m})
	if err != nil {
		return err
	}
	bp.Store(b)
	if err := b.Start(ctx); err != nil {
		return err
	}
	webLine, waitWeb := demoWeb(ctx, *httpListen, b, m, log)
	if *ocppListen != "" {
		cp := ocpp.NewChargePointSim(ocpp.SimConfig{ID: "evbsim", Vendor: "evbridge", Model: "DemoPoint",
			Serial: "SIM-0001", Plugged: true})
		go func() { _ = cp.Run(ctx, "ws://"+*ocppListen) }()
	}
	host, port, _ := net.SplitHostPort(*mqttListen)
	fmt.Fprintf(stdout, `evbridge demo %s is running: embedded MQTT broker on %s, %d simulated charger(s).

Watch everything:     mosquitto_sub -h %s -p %s -t 'evbridge/#' -v
Set a current:        mosquitto_pub -h %s -p %s -t evbridge/%s/set/current_limit -m 10
%s
%sHome Assistant:       point its MQTT integration at this broker; the chargers appear by discovery.
Stop with Ctrl-C.
`, version, *mqttListen, len(cfg.Chargers), host, port, host, port, cfg.Chargers[0].Name, webLine, ocppLine)
	<-ctx.Done()
	waitWeb() // requests in flight finish before the bridge stops taking changes
	b.Stop()
	return nil
}

// startDemoMeter runs a simulated Shelly Pro 3EM at the grid connection of
// a house with a 600 W load and PV that rises to 7 kW and sets again every
// 10 minutes; the meter also sees what the demo's chargers draw, as a real
// grid meter would.
func startDemoMeter(ctx context.Context, bp *atomic.Pointer[bridge.Bridge]) (string, error) {
	start := time.Now()
	power := func(now time.Time) [3]float64 {
		phase := math.Mod(now.Sub(start).Seconds(), 600) / 600
		pv := 7000 * math.Max(0, math.Sin(2*math.Pi*phase))
		car := 0.0
		if b := bp.Load(); b != nil {
			for _, c := range b.Chargers() {
				if c.State.Power != nil {
					car += *c.State.Power
				}
			}
		}
		w := (600 - pv + car) / 3
		return [3]float64{w, w, w}
	}
	sim := shelly.NewSimulator(shelly.SimConfig{Power: power})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		return "", fmt.Errorf("demo grid meter: %w", err)
	}
	go func() { <-ctx.Done(); _ = sim.Close() }()
	return sim.Addr(), nil
}

// startSim runs a simulator on a free loopback port and returns its address.
func startSim(ctx context.Context, sim charger.Simulator, host string) (string, error) {
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- sim.Run(ctx, net.JoinHostPort(host, "0"), func(bound string) { ready <- bound })
	}()
	select {
	case addr := <-ready:
		return addr, nil
	case err := <-errc:
		return "", fmt.Errorf("simulator %s: %w", sim.Name, err)
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("simulator %s did not start", sim.Name)
	}
}

func simNames(m map[string]charger.Simulator) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := newFlags("sim", stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve the simulated device on")
	list := fs.Bool("list", false, "list the simulators")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sims := charger.Simulators()
	if *list || name == "" {
		for _, s := range sims {
			fmt.Fprintf(stdout, "%-12s %s\n", s.Name, s.Title)
		}
		if name == "" && !*list {
			return errUsage
		}
		return nil
	}
	for _, s := range sims {
		if s.Name == name {
			return s.Run(ctx, *listen, func(bound string) {
				fmt.Fprintf(stdout, "simulated %s listening on %s\n", s.Title, bound)
			})
		}
	}
	byName := map[string]charger.Simulator{}
	for _, s := range sims {
		byName[s.Name] = s
	}
	return fmt.Errorf("no simulator %q (have: %s)", name, simNames(byName))
}
