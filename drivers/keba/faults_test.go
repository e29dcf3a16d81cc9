package keba

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestDeviceGoneAndBack(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Serial: "55555555"}, fast)
	addr := s.Addr()
	d := newDriver(t, s, nil, 200*time.Millisecond)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll of a closed station: %v, want DeadlineExceeded", err)
	}
	if err := d.SetEnabled(t.Context(), true); err == nil {
		t.Fatal("set on a closed station succeeded")
	}
	if err := s.Start(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	st := pollUntil(t, d, "the station to come back", func(st charger.State) bool { return st.Serial == "55555555" })
	if st.Firmware == "" {
		t.Fatal("identity must be read again after an outage")
	}
	if got := s.Stats().Reports[1]; got != 2 {
		t.Fatalf("report 1 asked %d times, want again after the outage", got)
	}
}

func TestSilentStation(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	s.SetFault(FaultSilent)
	// The caller's context bounds the wait.
	d := newDriver(t, s, nil, time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	if _, err := d.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll with a short context: %v, want DeadlineExceeded", err)
	}
	// Settings.Timeout bounds it too.
	_ = d.Close()
	d = newDriver(t, s, nil, 150*time.Millisecond)
	if err := d.SetEnabled(t.Context(), true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("set with a short timeout: %v, want DeadlineExceeded", err)
	}
}

func TestSlowReply(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	s.SetFault(FaultSlow)
	s.SetSlowDelay(30 * time.Millisecond)
	d := newDriver(t, s, nil, 5*time.Second)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
	s.SetSlowDelay(400 * time.Millisecond)
	d.timeout = 100 * time.Millisecond
	if _, err := d.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slower than the timeout: %v, want DeadlineExceeded", err)
	}
	// The late answers arrive while the next poll waits; they must not be
	// taken for its answers (report IDs tell them apart).
	s.SetFault(FaultNone)
	d.timeout = 5 * time.Second
	st, err := d.Poll(t.Context())
	if err != nil || st.Serial != "22334455" || st.Model == "" {
		t.Fatalf("after the slow replies: %v %s", err, dump(st))
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	d := newDriver(t, s, nil, 2*time.Second)
	for _, c := range []struct {
		fault Fault
		want  string
	}{
		{FaultGarbage, "not a KEBA reply"},
		{FaultBadJSON, "bad JSON"},
		{FaultBadData, `report 2 lacks "Enable sys"`},
	} {
		s.SetFault(c.fault)
		_, err := d.Poll(t.Context())
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: poll %v, want ErrBadReply mentioning %q", c.fault, err, c.want)
		}
	}
	s.SetFault(FaultGarbage)
	if err := d.SetEnabled(t.Context(), true); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("garbage answer to ena: %v, want ErrBadReply", err)
	}
	s.SetFault(FaultNone)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
}

// Status messages and stale reports around every answer must not be
// mistaken for the answer.
func TestNoiseAroundAnswers(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true, Car: quickCar}, fast)
	s.SetFault(FaultNoise)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	st := pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
	if st.Serial != "22334455" {
		t.Fatalf("with noise: %s", dump(st))
	}
	if err := d.SetCurrent(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "7 A", func(st charger.State) bool { return *st.CurrentLimit == 7 })
}

// Datagrams from addresses no charger uses are dropped, not delivered to
// some charger.
func TestStrangerIgnored(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	d := newDriver(t, s, nil, 2*time.Second)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	local, err := d.localAddr()
	if err != nil {
		t.Fatal(err)
	}
	c := udpFrom(t, nextIP(), local)
	_, _ = c.Write([]byte(`{"ID":"2","State":4}`))
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("a stranger's datagram disturbed the poll: %v", err)
	}
}

// udpFrom is a UDP socket on ip sending to addr.
func udpFrom(t *testing.T, ip, addr string) *net.UDPConn {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)}, to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
