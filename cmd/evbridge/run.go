package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/metrics"
	_ "github.com/evbridge/evbridge/drivers/all" // every driver registers itself
)

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("evbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errUsage
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	path := fs.String("c", "", "config file (YAML; see config.example.yaml)")
	rs := addRunFlags(fs) // add-on mode and the image's fallback: addon.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := rs.load(ctx, fs, *path, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	st := openState(cfg.StateFile(), log)
	m := metrics.New(version)
	b, err := bridge.New(bridge.Options{Config: cfg, Log: log, Version: version, Store: st, Observer: m})
	if err != nil {
		return err
	}
	log.Info("evbridge starting", "version", version, "config", cfg.Source, "chargers", len(cfg.Chargers))
	return runWithWeb(ctx, b, cfg.HTTP, m, log)
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	path := fs.String("c", "", "config file to check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "evbridge check-config: -c FILE is required")
		return errUsage
	}
	cfg, err := config.Load(*path, charger.Default)
	if err != nil {
		return err
	}
	broker := cfg.MQTT.Broker
	if broker == "" {
		broker = "embedded, listening on " + cfg.MQTT.Embedded.Listen
	}
	names := make([]string, 0, len(cfg.Chargers))
	for _, c := range cfg.Chargers {
		names = append(names, c.Name+" ("+c.Driver+")")
	}
	fmt.Fprintf(stdout, "%s: ok\n  broker: %s\n  chargers: %d %s\n", *path, broker, len(cfg.Chargers), strings.Join(names, ", "))
	return nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
