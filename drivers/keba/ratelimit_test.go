package keba

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// spaced is the guide's spacing rules scaled down for tests; the simulator
// drops and counts any datagram that breaks them.
var spaced = timing{udp: 40 * time.Millisecond, com: 400 * time.Millisecond, dis: 300 * time.Millisecond}

func noViolations(t *testing.T, s *Simulator) {
	t.Helper()
	if v := s.Stats().Violations; len(v) > 0 {
		t.Fatalf("the station saw its spacing rules broken: %q", v)
	}
}

func TestSpacingKept(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true, Car: quickCar}, spaced)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	ctx := t.Context()
	for range 3 {
		if _, err := d.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Reports; got[2] != 1 || got[3] != 1 {
		t.Fatalf("polls within t_COM_pause asked the station again: reports %v", got)
	}
	steps := []func() error{
		func() error { return d.SetCurrent(ctx, 10) },
		func() error { return d.SetCurrent(ctx, 10) }, // the station has it: not repeated
		func() error { return d.SetCurrent(ctx, 11) }, // a new value is a new command
		func() error { return d.SetEnabled(ctx, false) },
		func() error { return d.SetEnabled(ctx, true) }, // waits t_DIS_pause
		func() error { _, err := d.Poll(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{"currtime 10000 1", "currtime 11000 1", "ena 0", "ena 1"}
	if got := rec.settings(); !slices.Equal(got, want) {
		t.Fatalf("station was told %q, want %q", got, want)
	}
	noViolations(t, s)
}

// Callers on several goroutines share one station's spacing.
func TestSpacingKeptConcurrently(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true}, spaced)
	d := newDriver(t, s, nil, 3*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 8 {
		wg.Go(func() {
			for j := range 4 {
				var err error
				switch (i + j) % 3 {
				case 0:
					_, err = d.Poll(t.Context())
				case 1:
					err = d.SetCurrent(t.Context(), float64(6+i))
				default:
					err = d.SetEnabled(t.Context(), true)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	noViolations(t, s)
}

// Right after "ena 0" a poll that cannot wait t_DIS_pause answers from the
// reports held, instead of failing or breaking the rule.
func TestPollDuringDisablePause(t *testing.T) {
	t.Parallel()
	tm := timing{udp: 20 * time.Millisecond, dis: time.Second}
	s := startSim(t, SimConfig{Plugged: true}, tm)
	d := newDriver(t, s, nil, 2*time.Second)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Reports
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	st, err := d.Poll(ctx)
	if err != nil || st.Serial != "22334455" {
		t.Fatalf("poll in the pause: %v %s", err, dump(st))
	}
	if got := s.Stats().Reports; got != before {
		t.Fatalf("reports asked during t_DIS_pause: %v, before %v", got, before)
	}
	// A caller with time to wait gets fresh reports after the pause.
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Reports; got[2] != before[2]+1 {
		t.Fatalf("reports %v after the pause, before %v", got, before)
	}
	noViolations(t, s)
}

// A report left unanswered is not asked again within t_COM_pause.
func TestRepeatAfterSilenceWaits(t *testing.T) {
	t.Parallel()
	tm := timing{udp: 20 * time.Millisecond, com: 500 * time.Millisecond, dis: 40 * time.Millisecond}
	s := startSim(t, SimConfig{}, tm)
	s.SetFault(FaultSilent)
	d := newDriver(t, s, nil, 100*time.Millisecond)
	if _, err := d.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent station: %v", err)
	}
	s.SetFault(FaultNone)
	n := s.Stats().Datagrams
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.Poll(ctx); !errors.Is(err, errTooSoon) || !strings.Contains(err.Error(), `"report 2"`) {
		t.Fatalf("repeat within t_COM_pause: %v, want errTooSoon", err)
	}
	if got := s.Stats().Datagrams; got != n {
		t.Fatalf("%d datagrams sent in the pause", got-n)
	}
	d.timeout = 2 * time.Second
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
	noViolations(t, s)
}

// Between polls the station pushes its changes (guide §3.4); the held
// reports show them without asking again.
func TestStatusMessagesUpdateHeldReports(t *testing.T) {
	t.Parallel()
	tm := timing{udp: 20 * time.Millisecond, com: time.Hour, dis: 40 * time.Millisecond}
	s := startSim(t, SimConfig{Plugged: true}, tm)
	d := newDriver(t, s, nil, 2*time.Second)
	st, err := d.Poll(t.Context())
	if err != nil || st.IEC == charger.IECA {
		t.Fatalf("plugged: %v %s", err, dump(st))
	}
	s.Plug(false)
	pollUntil(t, d, "the pushed unplug", func(st charger.State) bool { return st.IEC == charger.IECA })
	if got := s.Stats().Reports; got != [4]int{0, 1, 1, 1} {
		t.Fatalf("reports asked %v, want one each", got[1:])
	}
}

// The simulator holds applications to the guide: crowded commands are
// dropped and counted.
func TestSimulatorEnforcesSpacing(t *testing.T) {
	t.Parallel()
	tm := timing{udp: 300 * time.Millisecond, com: time.Hour, dis: time.Hour}
	s := startSim(t, SimConfig{}, tm)
	c := udpFrom(t, nextIP(), s.Addr())
	send := func(cmd string) {
		if _, err := c.Write([]byte(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	send("report 2")
	send("report 3") // no t_UDP_pause
	eventually(t, "two datagrams", func() (bool, any) { st := s.Stats(); return st.Datagrams == 2, st })
	st := s.Stats()
	if st.Reports[2] != 1 || st.Reports[3] != 0 || len(st.Violations) != 1 ||
		!strings.Contains(st.Violations[0], "t_UDP_pause") {
		t.Fatalf("crowded command: %+v", st)
	}
	s.mu.Lock()
	s.lastAt = time.Time{} // forget the last command, keep the repeat rule
	s.mu.Unlock()
	send("report 2") // repeat within t_COM_pause
	eventually(t, "three datagrams", func() (bool, any) { st := s.Stats(); return st.Datagrams == 3, st })
	if st := s.Stats(); len(st.Violations) != 2 || !strings.Contains(st.Violations[1], "t_COM_pause") {
		t.Fatalf("repeated command: %+v", st)
	}
	s.mu.Lock()
	s.lastAt, s.lastStop = time.Now(), true
	s.lastAt = s.lastAt.Add(-time.Second) // a stop 1 s ago: t_UDP_pause is kept, t_DIS_pause is not
	s.mu.Unlock()
	send("ena 1")
	eventually(t, "four datagrams", func() (bool, any) { st := s.Stats(); return st.Datagrams == 4, st })
	if st := s.Stats(); len(st.Violations) != 3 || !strings.Contains(st.Violations[2], "t_DIS_pause") ||
		st.Commands["ena"] != 0 {
		t.Fatalf("command after a stop: %+v", st)
	}
}
