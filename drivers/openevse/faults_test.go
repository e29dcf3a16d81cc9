package openevse

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestDeviceGoneAndBack(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	addr := s.Addr()
	d := newDriver(t, addr, nil)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err == nil {
		t.Fatal("poll of a closed device succeeded")
	}
	if err := d.SetEnabled(t.Context(), false); err == nil {
		t.Fatal("command to a closed device succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "the device to come back", func(st charger.State) bool { return st.Serial != "" })
}

func TestHangAndSlow(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	short, err := New(charger.Settings{Address: s.Addr(), Timeout: 100 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault(FaultHang)
	if _, err := short.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung poll: %v, want DeadlineExceeded", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := newDriver(t, s.Addr(), nil).SetCurrent(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung command under a short context: %v, want DeadlineExceeded", err)
	}
	s.SetFault(FaultSlow)
	s.SetSlowDelay(time.Minute)
	if _, err := short.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slower than the timeout: %v, want DeadlineExceeded", err)
	}
	s.SetSlowDelay(20 * time.Millisecond)
	if _, err := newDriver(t, s.Addr(), nil).Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	for _, c := range []struct {
		fault Fault
		want  string
	}{
		{FaultGarbage, "bad JSON"},
		{FaultHTML, "got HTML"},
		{FaultEmpty, "empty reply"},
	} {
		s.SetFault(c.fault)
		if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: poll %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
		if err := d.SetEnabled(t.Context(), true); !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("fault %d: command %v, want ErrBadReply", c.fault, err)
		}
	}
	s.SetFault(FaultNone)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	d.base += "/nothing"
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "http 404") {
		t.Fatalf("404: %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Username: "admin", Password: "s3cret"})
	cases := []struct {
		opts *Options
		want string
	}{
		{nil, "set options username and password"},
		{&Options{Username: "admin", Password: "wrong", ClientID: 9}, `refused username "admin"`},
	}
	for _, c := range cases {
		d := newDriver(t, s.Addr(), c.opts)
		if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: poll %v, want ErrRejected mentioning %q", c.opts, err, c.want)
		}
		if err := d.SetCurrent(t.Context(), 10); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("%+v: command %v, want ErrRejected", c.opts, err)
		}
	}
	if n := len(s.Snapshot().Claims); n != 0 {
		t.Fatalf("unauthenticated commands made %d claims", n)
	}
	d := newDriver(t, s.Addr(), &Options{Username: "admin", Password: "s3cret", ClientID: 9})
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("with the login: %v", err)
	}
	if err := d.SetCurrent(t.Context(), 10); err != nil {
		t.Fatalf("command with the login: %v", err)
	}
}

func TestEVSEFaultStates(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	s.SetEVSEError(6)
	st := pollUntil(t, d, "the GFCI fault", func(st charger.State) bool { return st.Status == charger.StatusError })
	if st.IEC != charger.IECF || st.ErrorCode != "6" || st.ErrorText != "GFCI fault" {
		t.Fatalf("GFCI fault: %s", dump(st))
	}
	s.SetOverride("active", 0)
	st, err := d.Poll(t.Context())
	if err != nil || st.ErrorCode != "6" || !strings.Contains(st.ErrorText, "GFCI fault; manual override") {
		t.Fatalf("fault and override: %v %s", err, dump(st))
	}
	s.SetEVSEError(0)
	pollUntil(t, d, "the fault to clear", func(st charger.State) bool { return st.Status != charger.StatusError })
}

func TestOptionsAndRegistry(t *testing.T) {
	for _, o := range []Options{
		{ClientID: 0}, {ClientID: -3}, {ClientID: 1 << 31}, {ClientID: 0x00010001},
		{ClientID: 7, Username: "a:b"}, {ClientID: 7, Password: "x"}, {ClientID: 7, Username: "a\nb"},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for addr, want := range map[string]string{"192.0.2.9": "http://192.0.2.9:80", "evse.local:8080": "http://evse.local:8080",
		"[::1]:81": "http://[::1]:81"} {
		d, err := New(charger.Settings{Address: addr}, nil, nil)
		if err != nil || d.base != want {
			t.Errorf("address %q: %v, want %s", addr, err, want)
		}
	}
	if _, err := New(charger.Settings{Address: "h/p"}, nil, nil); err == nil {
		t.Error("address with a path accepted")
	}
	drv, ok := charger.Default.Lookup("openevse")
	if !ok || drv.DefaultPort != 80 {
		t.Fatalf("registered driver: %+v", drv)
	}
	opts, _ := drv.NewOptions().(*Options)
	if opts == nil || opts.ClientID != DefaultClientID {
		t.Fatalf("default options %+v", opts)
	}
	c, err := drv.New(charger.Settings{Address: "192.0.2.9"}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(charger.PhaseSwitcher); ok {
		t.Error("openevse claims phase switching")
	}
	if _, ok := c.(charger.Enabler); !ok {
		t.Error("openevse lost Enabler")
	}
}

func TestRegisteredSimulatorAndMDNS(t *testing.T) {
	t.Parallel()
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "openevse" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no openevse simulator registered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	d := newDriver(t, <-bound, nil)
	if st := pollUntil(t, d, "a car", func(st charger.State) bool { return st.IEC != charger.IECA }); st.Brand != "OpenEVSE" {
		t.Fatalf("standalone simulator: %s", dump(st))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	s := startSim(t, SimConfig{BuildEnv: "openevse_esp32-gateway-e", Version: "5.0.1", ID: "c0ffee"})
	service, port, txt := s.MDNSInfo()
	wantTxt := []string{"type=openevse_esp32-gateway-e", "version=5.0.1", "id=c0ffee"}
	if service != "_openevse._tcp" || port == 0 || !strings.HasSuffix(s.Addr(), ":"+strconv.Itoa(port)) || !slices.Equal(txt, wantTxt) {
		t.Fatalf("mDNS: %s %d %v (addr %s)", service, port, txt, s.Addr())
	}
}
