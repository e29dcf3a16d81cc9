package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/config"
)

// findChromium returns the browser to drive, or "" when none is installed.
func findChromium() string {
	if p := os.Getenv("EVBRIDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the browser test leaves its screenshot:
// $EVBRIDGE_ARTIFACTS, else evbridge-artifacts in the temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("EVBRIDGE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "evbridge-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile that talks to
// nothing but what the test loads (loopback).
func browser(t *testing.T, bin string) context.Context {
	t.Helper()
	// A fresh profile; removed after the browser is gone (Chromium's
	// helpers may still be writing to it when t.TempDir would check).
	profile, err := os.MkdirTemp("", "evbridge-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-proxy-server", true),
		// The default 20 s for Chromium to print its DevTools address
		// was once too short with the race-detector suite on both cores.
		chromedp.WSURLReadTimeout(60*time.Second),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	return ctx
}

// TestDashboardInBrowser loads the dashboard of a demo-like bridge (a
// simulated go-e charger, Mosquitto, and an in-process grid meter so the
// solar controller and its modes are on) in headless Chromium, changes the
// mode and the current in the page, and checks that both reach the
// simulated charger.
func TestDashboardInBrowser(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("SKIP browser test: chromium is not installed (apt-get install chromium chromium-driver; .ci/run installs it)")
	}
	e := startEnv(t, envOptions{site: true})
	e.waitPolled()
	ctx := browser(t, bin)

	var mu sync.Mutex
	var pageErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			pageErrors = append(pageErrors, "exception: "+ev.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				pageErrors = append(pageErrors, "console: "+ev.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				pageErrors = append(pageErrors, "console.error")
			}
		}
	})

	card := `article[data-charger="garage"]`
	var name, status string
	err := chromedp.Run(ctx,
		log.Enable(),
		// A phone's screen: the page must be usable there.
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(card+` [data-f="power"]`),
		chromedp.Poll(`document.querySelector('#conn').textContent === 'live'`, nil, chromedp.WithPollingTimeout(wait)),
		chromedp.Text(card+` h3`, &name),
		chromedp.Text(card+` .badge`, &status),
	)
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if name != "garage" || status == "" || status == "offline" {
		t.Fatalf("the simulated charger is not shown: name %q, status %q", name, status)
	}
	if err := chromedp.Run(ctx, chromedp.WaitVisible(`#site`), chromedp.WaitVisible(card+` select[name="mode"]`)); err != nil {
		t.Fatalf("power flow or mode select not shown: %v", err)
	}
	// go-e does not know the car's SoC: its row stays hidden, not "–".
	var socHidden bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('`+card+` [data-opt="vehicle_soc"]').hidden`, &socHidden)); err != nil || !socHidden {
		t.Fatalf("vehicle SoC row shown for a charger without SoC (hidden=%v, err %v)", socHidden, err)
	}

	var weight struct {
		Static, API int
		Files       []string
	}
	err = chromedp.Run(ctx, chromedp.Evaluate(`(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const out = {Static: nav.transferSize, API: 0, Files: ['page ' + nav.transferSize]};
		for (const r of performance.getEntriesByType('resource')) {
			if (r.name.includes('/api/v1/events')) continue;
			if (r.name.includes('/api/')) out.API += r.transferSize; else out.Static += r.transferSize;
			out.Files.push(r.name.replace(location.origin, '') + ' ' + r.transferSize);
		}
		return out;
	})()`, &weight))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page weight on first load: %d bytes of page files, %d bytes of API data (%s)", weight.Static, weight.API, strings.Join(weight.Files, ", "))
	if weight.Static == 0 || weight.Static > 64<<10 {
		t.Errorf("page weight %d bytes; the budget is 64 KiB", weight.Static)
	}

	// Mode: off stops the charger (the controller disables it).
	// chromedp.SetValue fires the input and change events a user's pick does.
	if err := chromedp.Run(ctx, chromedp.SetValue(card+` select[name="mode"]`, "off")); err != nil {
		t.Fatalf("change mode: %v", err)
	}
	waitFor(t, "mode off to reach the simulated charger (frc=1)", func() bool { return e.sim.Snapshot().Frc == 1 })

	// Current: typed into the number field and sent with the Set button.
	err = chromedp.Run(ctx,
		chromedp.SetValue(card+` input[name="current_limit"]`, ""),
		chromedp.SendKeys(card+` input[name="current_limit"]`, "10"),
		chromedp.Click(card+` button[name="set_current"]`),
	)
	if err != nil {
		t.Fatalf("set current: %v", err)
	}
	waitFor(t, "10 A to reach the simulated charger", func() bool { return e.sim.Snapshot().Amp == 10 })

	// The page shows the new state from the live stream.
	var offered, mode, overflow string
	err = chromedp.Run(ctx,
		chromedp.Poll(`document.querySelector('`+card+` [data-f="current_limit"]').textContent === '10 A'`, nil, chromedp.WithPollingTimeout(wait)),
		chromedp.Text(card+` [data-f="current_limit"]`, &offered),
		chromedp.Poll(`document.querySelector('`+card+` [data-f="mode"]').textContent === 'off'`, nil, chromedp.WithPollingTimeout(wait)),
		chromedp.Text(card+` [data-f="mode"]`, &mode),
		chromedp.Evaluate(`String(document.documentElement.scrollWidth <= window.innerWidth)`, &overflow),
	)
	if err != nil {
		t.Fatalf("live update: %v (offered %q, mode %q)", err, offered, mode)
	}
	if overflow != "true" {
		t.Error("the page is wider than a phone's screen")
	}

	// A discovered charger, accepted in the page under a name.
	other := startSim(t, e.ctx, "777777")
	e.b.Offer(bridge.Candidate{Driver: "goe", Address: other.Addr(), Serial: "777777", FoundBy: "mdns"}, false)
	pendingItem := `li[data-candidate="goe:777777"]`
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(pendingItem),
		chromedp.SendKeys(pendingItem+` input`, "carport"),
		chromedp.Click(pendingItem+` button`),
		chromedp.WaitVisible(`article[data-charger="carport"] [data-f="power"]`),
	)
	if err != nil {
		t.Fatalf("accept a discovered charger: %v", err)
	}
	if _, ok := e.b.Charger("carport"); !ok {
		t.Fatal("the charger accepted in the page is not in the bridge")
	}

	// The power flow from the controller's decision, for the screenshot.
	if err := chromedp.Run(ctx, chromedp.Poll(`document.querySelector('#f-grid [data-v]').textContent === '500 W'`, nil, chromedp.WithPollingTimeout(wait))); err != nil {
		t.Errorf("the grid power is not shown: %v", err)
	}
	var shot []byte
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactDir(t), fmt.Sprintf("dashboard-%s.png", time.Now().Format("20060102-150405")))
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	fmt.Fprintf(os.Stderr, "browser test screenshot: %s\n", path)

	mu.Lock()
	defer mu.Unlock()
	for _, e := range pageErrors {
		t.Errorf("page error: %s", e)
	}
}

// With a token, the page asks for it, and after the login the dashboard
// and its live stream work with the session cookie.
func TestDashboardLoginInBrowser(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("SKIP browser test: chromium is not installed (apt-get install chromium chromium-driver; .ci/run installs it)")
	}
	e := startEnv(t, envOptions{http: config.HTTP{Token: "browser-token"}})
	e.waitPolled()
	ctx := browser(t, bin)
	steps := []struct {
		name string
		do   chromedp.Action
	}{
		{"open the page", chromedp.Navigate(e.url + "/")},
		{"see the login form", chromedp.WaitVisible(`#login input[name="token"]`)},
		{"type a wrong token", chromedp.SendKeys(`#login input[name="token"]`, "wrong")},
		{"log in", chromedp.Click(`#login button`)},
		{"be refused", chromedp.Poll(`document.querySelector('#login-msg').textContent.includes('wrong credentials')`, nil, chromedp.WithPollingTimeout(wait))},
		{"find the field emptied", chromedp.Poll(`document.querySelector('#login input[name="token"]').value === ''`, nil, chromedp.WithPollingTimeout(wait))},
		{"type the token", chromedp.SendKeys(`#login input[name="token"]`, "browser-token")},
		{"log in again", chromedp.Click(`#login button`)},
		{"see the charger", chromedp.WaitVisible(`article[data-charger="garage"] [data-f="power"]`)},
		{"lose the login form", chromedp.WaitNotVisible(`#login`)},
		{"go live", chromedp.Poll(`document.querySelector('#conn').textContent === 'live'`, nil, chromedp.WithPollingTimeout(wait))},
	}
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, wait)
		err := chromedp.Run(sctx, st.do)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
}
