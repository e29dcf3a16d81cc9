package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/store"
	"github.com/evbridge/evbridge/bridge/supervisor"
)

// runSettings are the flags of `evbridge run` beyond -c: Home Assistant
// add-on mode, and the container image's fallback config.
type runSettings struct {
	addon      bool
	layout     supervisor.Layout
	supervisor string
	fallback   string
	// retry is how long add-on mode waits for the broker (tests shorten it).
	retry  supervisor.Retry
	getenv func(string) string
}

func addRunFlags(fs *flag.FlagSet) *runSettings {
	s := &runSettings{retry: supervisor.DefaultRetry, getenv: os.Getenv}
	fs.BoolVar(&s.addon, "addon", false, "run as a Home Assistant add-on: options from --data/options.json, broker from the Supervisor\n(the default when $SUPERVISOR_TOKEN is set; --addon=false turns it off)")
	fs.StringVar(&s.layout.DataDir, "data", supervisor.DefaultDataDir, "add-on mode: directory of options.json and the state file")
	fs.StringVar(&s.layout.Listen, "listen", supervisor.IngressListen, "add-on mode: address of the web UI, the add-on's ingress port")
	fs.StringVar(&s.layout.ConfigDir, "config-dir", supervisor.DefaultConfigDir, "add-on mode: the add-on's public config folder, where an optional "+supervisor.ConfigFile+" extends the options")
	fs.StringVar(&s.supervisor, "supervisor", supervisor.DefaultURL, "add-on mode: the Supervisor's API URL")
	fs.StringVar(&s.fallback, "fallback", "", "config file to run with when the -c file does not exist (the container image's defaults)")
	return s
}

// load returns the configuration `evbridge run` runs with: the add-on's
// options and broker in add-on mode, else the -c file (or the fallback
// when that file does not exist).
func (s *runSettings) load(ctx context.Context, flags *flag.FlagSet, path string, stderr io.Writer) (*config.Config, error) {
	addon, explicit := s.addon, false
	flags.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "addon" })
	token := s.getenv(supervisor.TokenEnv)
	if !explicit {
		addon = token != ""
	}
	if addon {
		return s.addonConfig(ctx, token, path, stderr)
	}
	if path == "" {
		fmt.Fprintln(stderr, "evbridge run: -c FILE is required (or run \"evbridge demo\" to try it with simulated chargers)")
		return nil, errUsage
	}
	if s.fallback != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			newLogger(config.Log{}, stderr).Warn("no config file; running with the image's defaults (embedded broker, no chargers, discovery on). "+
				"Copy config.example.yaml there to configure evbridge", "missing", path, "defaults", s.fallback)
			path = s.fallback
		}
	}
	return config.Load(path, charger.Default)
}

// addonConfig builds the add-on's configuration. The options are checked
// before the Supervisor is asked for the broker, so a mistake in them is
// reported at once and not after the broker retries.
func (s *runSettings) addonConfig(ctx context.Context, token, path string, stderr io.Writer) (*config.Config, error) {
	if token == "" {
		return nil, fmt.Errorf("add-on mode needs $%s, which the Home Assistant Supervisor sets for add-ons; outside Home Assistant use evbridge run -c FILE", supervisor.TokenEnv)
	}
	opts, err := supervisor.ReadOptions(s.layout.OptionsPath())
	if err != nil {
		return nil, err
	}
	log := newLogger(config.Log{Level: opts.LogLevel}, stderr).With("mode", "addon")
	if path != "" {
		log.Warn("add-on mode: ignoring -c; the add-on's options (and "+s.layout.ConfigPath()+") are the configuration", "file", path)
	}
	if _, err := os.Stat(s.layout.ConfigPath()); err == nil {
		log.Info("config file in the add-on's config folder: it extends the options", "file", s.layout.ConfigPath())
	}
	probe := supervisor.MQTTService{Host: "localhost", Port: 1883}
	if _, err := supervisor.Config(opts, probe, s.layout, charger.Default); err != nil {
		return nil, fmt.Errorf("add-on options (fix them in the add-on's Configuration tab, or in %s):\n%w", s.layout.ConfigPath(), err)
	}
	svc, err := supervisor.WaitMQTT(ctx, &supervisor.Client{BaseURL: s.supervisor, Token: token}, s.retry, log)
	if err != nil {
		return nil, err
	}
	log.Info("MQTT broker from the Supervisor", "broker", svc.BrokerURL(), "username", svc.Username, "provided_by", svc.Addon)
	return supervisor.Config(opts, svc, s.layout, charger.Default)
}

// openState opens the state file. When it cannot be used evbridge still
// runs, keeping runtime changes (accepted chargers, modes, setpoints) in
// memory only, and says so loudly: a daemon that refuses to start over a
// read-only volume controls no charger at all.
func openState(path string, log *slog.Logger) *store.Store {
	if path == "" {
		log.Info("no state file: runtime changes are kept in memory only")
		return nil
	}
	st, err := store.Open(path, log)
	if err != nil {
		log.Error("cannot use the state file; runtime changes are kept in memory only and lost at restart",
			"file", path, "err", err, "fix", writableHint(filepath.Dir(path)))
		return nil
	}
	if err := probeWritable(filepath.Dir(path)); err != nil {
		log.Error("state directory is not writable; runtime changes are kept in memory only and lost at restart",
			"dir", filepath.Dir(path), "err", err, "fix", writableHint(filepath.Dir(path)))
	}
	return st
}

func writableHint(dir string) string {
	return fmt.Sprintf("make %s writable by uid %d (for the Docker image, whose user is 65532: chown -R 65532:65532 the host directory mounted there)",
		dir, os.Geteuid())
}

// probeWritable creates and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".evbridge-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
