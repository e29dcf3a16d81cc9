package smaev

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/simcar"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTokenExpiredOnDevice(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := startSim(t, SimConfig{Car: simcar.Config{Now: clk.Now}})
	d := newDriver(t, s.Addr(), nil)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The device's clock passes the hour; the driver's does not: the
	// device answers 401 and the driver refreshes and retries.
	clk.add(61 * time.Minute)
	before := s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("poll after expiry: %v", err)
	}
	want := map[string]int{keyMeas: 2, keyToken: 1, keyParam: 1}
	if got := delta(before, s.Requests()); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	if sn := s.Snapshot(); sn.Logins != 1 || sn.Refreshes != 1 {
		t.Fatalf("after expiry: %+v", sn)
	}
	s.ExpireTokens() // a reboot: the refresh token still works
	if err := d.SetCurrent(t.Context(), 12); err != nil {
		t.Fatalf("command after tokens were dropped: %v", err)
	}
	if sn := s.Snapshot(); sn.Logins != 1 || sn.Refreshes != 2 || sn.Limit != 12 {
		t.Fatalf("after a reboot: %+v", sn)
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	clk := newClock()
	d.now = clk.Now
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.add(58 * time.Minute)
	before := s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := delta(before, s.Requests()); got[keyToken] != 0 {
		t.Fatalf("renewed too early: %v", got)
	}
	clk.add(time.Minute + time.Second) // inside the last minute
	before = s.Requests()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{keyToken: 1, keyMeas: 1, keyParam: 1}
	if got := delta(before, s.Requests()); !reflect.DeepEqual(got, want) {
		t.Fatalf("renewal: %v, want %v (no 401 round trip)", got, want)
	}
	if sn := s.Snapshot(); sn.Logins != 1 || sn.Refreshes != 1 {
		t.Fatalf("renewal by refresh token: %+v", sn)
	}
}

func TestRefreshRefusedLogsInAgain(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.RevokeAll()
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("poll after every token was revoked: %v", err)
	}
	if sn := s.Snapshot(); sn.Logins != 2 || sn.Refreshes != 0 {
		t.Fatalf("%+v", sn)
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), &Options{Username: SimUsername, Password: "wrong"})
	_, err := d.Poll(t.Context())
	if !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), `log in as "evbridge"`) ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := d.SetEnabled(t.Context(), true); !errors.Is(err, charger.ErrRejected) {
		t.Fatalf("command with a wrong password: %v", err)
	}
	if sn := s.Snapshot(); sn.Puts != 0 || sn.Logins != 0 {
		t.Fatalf("%+v", sn)
	}

	// The password changes while the driver holds a token: it works until
	// the tokens go, then fails clearly.
	good := newDriver(t, s.Addr(), nil)
	if _, err := good.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.SetPassword("changed")
	if _, err := good.Poll(t.Context()); err != nil {
		t.Fatalf("with a token still valid: %v", err)
	}
	s.RevokeAll()
	if _, err := good.Poll(t.Context()); !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), "refused the login") {
		t.Fatalf("after the password changed: %v", err)
	}
}

func TestAdminRefused(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Username: "admin", Password: "x"}, {Username: "Admin", Password: "x"}} {
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `"admin" is not allowed`) {
			t.Errorf("%q: %v", o.Username, err)
		}
		if _, err := New(charger.Settings{Address: "192.0.2.7"}, &o, nil); err == nil {
			t.Errorf("New with %q succeeded", o.Username)
		}
	}
	// The simulated device refuses admin itself, even with its password.
	s := startSim(t, SimConfig{Username: "admin", Password: "pw"})
	resp, err := http.PostForm("http://"+s.Addr()+pathToken,
		url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || s.Snapshot().Logins != 0 {
		t.Fatalf("admin login: %d", resp.StatusCode)
	}
	// A driver built around the check (as an older config might) gets
	// a clear error from the device.
	d := newDriver(t, s.Addr(), nil)
	d.user, d.pass = "admin", "pw"
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), `\"admin\" is not allowed`) {
		t.Fatalf("admin poll: %v", err)
	}
}
