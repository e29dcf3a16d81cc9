package tesla

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/drivertest"
	"github.com/evbridge/evbridge/drivers/simcar"
)

var quickCar = simcar.Config{Delay: 200 * time.Millisecond, Tau: 100 * time.Millisecond}

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	s := NewSimulator(cfg)
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newDriver(t testing.TB, addr string, o *Options) *Driver {
	t.Helper()
	d, err := New(charger.Settings{Name: "test", Address: addr, Timeout: 2 * time.Second}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func eventually(t *testing.T, what string, cond func() (bool, any)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last seen: %s", what, dump(last))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pollUntil(t *testing.T, d *Driver, what string, cond func(charger.State) bool) charger.State {
	t.Helper()
	var st charger.State
	eventually(t, what, func() (bool, any) {
		var err error
		st, err = d.Poll(t.Context())
		return err == nil && cond(st), st
	})
	return st
}

func dump(v any) string { return drivertest.Dump(v) }

// consistentPoll polls between two equal snapshots, so the reading and the
// snapshot describe the same tick.
func consistentPoll(t *testing.T, s *Simulator, d *Driver) (charger.State, SimSnapshot) {
	return drivertest.ConsistentPoll(t, s.Snapshot, d.Poll)
}

// delta is the requests made between two Requests() calls.
func delta(before, after map[string]int) map[string]int { return drivertest.Delta(before, after) }

func TestPollMatchesSimulator(t *testing.T) {
	t.Parallel()
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("single-phase=%t", single), func(t *testing.T) {
			t.Parallel()
			s := startSim(t, SimConfig{SinglePhase: single, Car: quickCar, Plugged: true})
			d := newDriver(t, s.Addr(), nil)
			eventually(t, "the car to charge at 16 A", func() (bool, any) {
				sn := s.Snapshot()
				return sn.Contactor && sn.Currents[0] == 16 && sn.SessionWh > 0, sn
			})
			st, sn := consistentPoll(t, s, d)
			want := charger.State{
				IEC: charger.IECC, Status: charger.StatusCharging, SessionEnergy: charger.Ptr(sn.SessionWh / 1000),
				EnergyTotal: charger.Ptr(sn.LifetimeWh / 1000), RSSI: charger.Ptr(-68.0), ErrorText: ReadOnlyText,
				Identity: charger.Identity{Brand: "Tesla", Model: "Wall Connector Gen 3 1529455-02-D",
					Serial: "PGT22123456789", Firmware: "24.36.3+g1a2b3c4d5e6f7"},
			}
			power := 0.0
			if single {
				want.Currents, want.Voltages, want.Phases = []float64{16}, []float64{230}, charger.Ptr(1)
				power = 16 * 230
			} else {
				want.Currents, want.Voltages, want.Phases = sn.Currents[:], sn.Voltages[:], charger.Ptr(3)
				for i := range 3 {
					power += sn.Currents[i] * sn.Voltages[i]
				}
			}
			want.Power = charger.Ptr(math.Round(power*10) / 10)
			// Temperature: the hottest sensor, derived from the load.
			want.Temperature = st.Temperature
			if !reflect.DeepEqual(st, want) {
				t.Fatalf("poll:\n got %s\nwant %s", dump(st), dump(want))
			}
			if st.Temperature == nil || *st.Temperature < 30 || st.Enabled != nil || st.CurrentLimit != nil {
				t.Errorf("temperature %v, enabled %v, limit %v: no enable or offered current is readable",
					st.Temperature, st.Enabled, st.CurrentLimit)
			}
		})
	}
}

// One request per poll; version, lifetime and wifi_status on the first
// poll, lifetime and wifi_status every 12th, version after a reboot.
func TestRequestsPerPoll(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	poll := func() map[string]int {
		t.Helper()
		before := s.Requests()
		if _, err := d.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		return delta(before, s.Requests())
	}
	all := map[string]int{"/api/1/vitals": 1, "/api/1/version": 1, "/api/1/lifetime": 1, "/api/1/wifi_status": 1}
	if got := poll(); !reflect.DeepEqual(got, all) {
		t.Fatalf("first poll: %v, want %v", got, all)
	}
	for i := 1; i < slowEvery; i++ {
		if got := poll(); !reflect.DeepEqual(got, map[string]int{"/api/1/vitals": 1}) {
			t.Fatalf("poll %d: %v, want vitals only", i+1, got)
		}
	}
	slow := map[string]int{"/api/1/vitals": 1, "/api/1/lifetime": 1, "/api/1/wifi_status": 1}
	if got := poll(); !reflect.DeepEqual(got, slow) {
		t.Fatalf("poll %d: %v, want %v", slowEvery+1, got, slow)
	}
	s.Reboot()
	s.step()
	if got := poll(); !reflect.DeepEqual(got, all) {
		t.Fatalf("after a reboot: %v, want %v", got, all)
	}
}

func TestCarAndAppControl(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true, SinglePhase: true})
	d := newDriver(t, s.Addr(), nil)
	pollUntil(t, d, "charging at 16 A", func(st charger.State) bool { return st.Currents[0] == 16 })
	// The app stops charging: the contactor opens, no power.
	s.SetOffered(0)
	st := pollUntil(t, d, "stopped", func(st charger.State) bool { return st.IEC == charger.IECB })
	if st.Status != charger.StatusConnected || *st.Power != 0 || st.Currents[0] != 0 {
		t.Fatalf("stopped by the app: %s", dump(st))
	}
	s.SetOffered(10)
	pollUntil(t, d, "charging at 10 A", func(st charger.State) bool { return st.Currents[0] == 10 && *st.Power == 2300 })
	s.Plug(false)
	st = pollUntil(t, d, "no car", func(st charger.State) bool { return st.IEC == charger.IECA })
	if st.Status != charger.StatusNoVehicle || *st.Power != 0 {
		t.Fatalf("unplugged: %s", dump(st))
	}
}

func TestCompleteAndError(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true, Car: simcar.Config{Delay: 10 * time.Millisecond,
		Tau: 10 * time.Millisecond, BatteryKWh: 0.001, SoC: 99.9}})
	d := newDriver(t, s.Addr(), nil)
	pollUntil(t, d, "the battery to be full", func(st charger.State) bool { return st.Status == charger.StatusComplete })
	s.SetError("GridVoltageOutOfRange", "PilotFault")
	st := pollUntil(t, d, "the error", func(st charger.State) bool { return st.Status == charger.StatusError })
	want := "error (evse_state 7); alerts: GridVoltageOutOfRange, PilotFault; " + ReadOnlyText
	if st.ErrorCode != "7" || st.ErrorText != want {
		t.Fatalf("error: %q %q, want 7 %q", st.ErrorCode, st.ErrorText, want)
	}
}

func TestReadOnlyByInterface(t *testing.T) {
	drv, ok := charger.Default.Lookup("tesla_wc3")
	if !ok || drv.DefaultPort != 80 || drv.DefaultPollInterval != 5*time.Second {
		t.Fatalf("registered driver: %+v", drv)
	}
	c, err := drv.New(charger.Settings{Address: "192.0.2.4"}, drv.NewOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(charger.CurrentSetter); ok {
		t.Error("tesla_wc3 claims to set the current")
	}
	if _, ok := c.(charger.Enabler); ok {
		t.Error("tesla_wc3 claims to start and stop charging")
	}
	if _, ok := c.(charger.PhaseSwitcher); ok {
		t.Error("tesla_wc3 claims to switch phases")
	}
	if _, err := drv.New(charger.Settings{Address: "h"}, &Options{Wiring: "delta"}, nil); err == nil {
		t.Error("unknown wiring accepted")
	}
	for _, a := range []string{"", "h/x"} {
		if _, err := New(charger.Settings{Address: a}, nil, nil); err == nil {
			t.Errorf("address %q accepted", a)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{NaNInLifetime: true})
	addr := s.Addr()
	d := newDriver(t, addr, nil)
	if st, err := d.Poll(t.Context()); err != nil || st.EnergyTotal == nil {
		t.Fatalf("lifetime with nan: %v %s", err, dump(st))
	}
	s.SetFault(FaultMissingBrace)
	if _, err := newDriver(t, addr, nil).Poll(t.Context()); err != nil {
		t.Fatalf("replies without the closing brace: %v", err)
	}
	for _, c := range []struct {
		fault Fault
		want  string
	}{{FaultGarbage, "bad JSON"}, {FaultHTML, "got HTML"}, {FaultEmpty, "empty reply"}} {
		s.SetFault(c.fault)
		if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
	}
	s.SetFault(FaultHang)
	short, _ := New(charger.Settings{Address: addr, Timeout: 100 * time.Millisecond}, nil, nil)
	if _, err := short.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v, want DeadlineExceeded", err)
	}
	s.SetFault(FaultSlow)
	s.SetSlowDelay(time.Minute)
	if _, err := short.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v, want DeadlineExceeded", err)
	}
	s.SetSlowDelay(20 * time.Millisecond)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
	s.SetFault(FaultNone)

	// Gone and back: the identity is read again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); err == nil {
		t.Fatal("poll of a closed device succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	before := s.Requests()
	pollUntil(t, d, "the device to come back", func(st charger.State) bool { return st.Serial != "" })
	if got := delta(before, s.Requests()); got["/api/1/version"] != 1 {
		t.Errorf("after the outage: %v, want the version read again", got)
	}
}

// Firmware without lifetime or wifi_status: read what there is.
func TestMissingOptionalEndpoints(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	target, _ := url.Parse("http://" + s.Addr())
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/1/wifi_status" || r.URL.Path == "/api/1/lifetime" {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	d := newDriver(t, ln.Addr().String(), nil)
	for range slowEvery + 1 {
		st, err := d.Poll(t.Context())
		if err != nil || st.RSSI != nil || st.EnergyTotal != nil || st.Serial == "" {
			t.Fatalf("without lifetime and wifi_status: %v %s", err, dump(st))
		}
	}
	if got := s.Requests(); got["/api/1/vitals"] != slowEvery+1 {
		t.Errorf("requests through the proxy: %v", got)
	}
	// Without vitals there is nothing to read.
	d.base += "/x"
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "http 404") {
		t.Errorf("no vitals: %v", err)
	}
}

func TestRegisteredSimulator(t *testing.T) {
	t.Parallel()
	var run func(context.Context, string, func(string)) error
	for _, s := range charger.Simulators() {
		if s.Name == "tesla_wc3" {
			run = s.Run
		}
	}
	if run == nil {
		t.Fatal("no tesla_wc3 simulator registered")
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a string) { bound <- a }) }()
	d := newDriver(t, <-bound, nil)
	if st := pollUntil(t, d, "a car", func(st charger.State) bool { return st.IEC != charger.IECA }); st.Brand != "Tesla" {
		t.Fatalf("standalone simulator: %s", dump(st))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPoll(b *testing.B) {
	s := startSim(b, SimConfig{Plugged: true})
	d := newDriver(b, s.Addr(), nil)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
