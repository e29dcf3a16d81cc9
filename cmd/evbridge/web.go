package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/bridge/metrics"
	"github.com/evbridge/evbridge/bridge/web"
)

// startWeb serves the web UI, REST API, /metrics and the health endpoints
// on cfg.Listen until ctx ends. It returns the bound address and a
// function that waits until the server has shut down.
func startWeb(ctx context.Context, cfg config.HTTP, b *bridge.Bridge, m *metrics.Metrics, log *slog.Logger) (net.Addr, func(), error) {
	if err := m.Watch(b); err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	srv, err := web.New(web.Options{Bridge: b, HTTP: cfg, Metrics: m.Handler(), Log: log, Version: version})
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("web server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("web server stopped", "err", err)
		}
	}()
	log.Info("web UI and API listening", "url", webURL(ln.Addr()), "ingress", cfg.Ingress)
	return ln.Addr(), func() { <-done }, nil
}

// webURL is the address to open in a browser on this machine.
func webURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port)) + "/"
}

// runWithWeb runs the bridge, with the web server when cfg.Listen is set,
// until ctx ends.
func runWithWeb(ctx context.Context, b *bridge.Bridge, cfg config.HTTP, m *metrics.Metrics, log *slog.Logger) error {
	if err := b.Start(ctx); err != nil {
		return err
	}
	wait := func() {}
	if cfg.Listen != "" {
		_, w, err := startWeb(ctx, cfg, b, m, log)
		if err != nil {
			b.Stop()
			return fmt.Errorf("%w (set http.listen to another address, or to \"\" to turn the web server off)", err)
		}
		wait = w
	}
	<-ctx.Done()
	wait() // requests in flight finish before the bridge stops taking changes
	b.Stop()
	return nil
}

// demoWeb starts the demo's web server. A demo whose web port is taken
// (often: a second demo) still runs, and says how to move the web server.
// It returns the banner line and a function waiting for the server.
func demoWeb(ctx context.Context, listen string, b *bridge.Bridge, m *metrics.Metrics, log *slog.Logger) (string, func()) {
	if listen == "" {
		return "Web UI:               off (--http-listen ADDR turns it on)", func() {}
	}
	addr, wait, err := startWeb(ctx, config.HTTP{Listen: listen}, b, m, log)
	if err != nil {
		log.Warn("web UI not started", "err", err)
		return fmt.Sprintf("Web UI:               not started: %v; pass --http-listen with a free address, e.g. 127.0.0.1:8081", err), func() {}
	}
	u := webURL(addr)
	return fmt.Sprintf("Web UI:               %s   (REST API %sapi/v1/, metrics %smetrics)", u, u, u), wait
}
