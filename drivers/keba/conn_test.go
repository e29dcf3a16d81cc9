package keba

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Several stations answer to one socket; each driver sees only its own.
func TestSeveralStationsOneSocket(t *testing.T) {
	t.Parallel()
	const n = 5
	sims := make([]*Simulator, n)
	recs := make([]*recorder, n)
	drvs := make([]*Driver, n)
	for i := range n {
		sims[i] = startSim(t, SimConfig{Serial: fmt.Sprintf("1000000%d", i), Plugged: true, Car: quickCar}, spaced)
		recs[i] = &recorder{}
		sims[i].OnCommand(recs[i].add)
		drvs[i] = newDriver(t, sims[i], nil, 5*time.Second)
	}
	for _, d := range drvs[1:] {
		if d.conn != drvs[0].conn {
			t.Fatal("drivers on one local address must share one socket")
		}
	}
	var wg sync.WaitGroup
	states := make([]charger.State, n)
	errs := make([]error, n)
	for i, d := range drvs {
		wg.Go(func() {
			if errs[i] = d.SetCurrent(t.Context(), float64(6+i)); errs[i] != nil {
				return
			}
			states[i] = pollUntil(t, d, "its own current", func(st charger.State) bool {
				return *st.CurrentLimit == float64(6+i)
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("station %d: %v", i, errs[i])
		}
		if want := fmt.Sprintf("1000000%d", i); states[i].Serial != want {
			t.Errorf("driver %d read serial %s, want %s", i, states[i].Serial, want)
		}
		want := []string{fmt.Sprintf("currtime %d 1", (6+i)*1000)}
		if got := recs[i].settings(); !slices.Equal(got, want) {
			t.Errorf("station %d was told %q, want %q", i, got, want)
		}
		noViolations(t, sims[i])
	}
}

func TestSocketRegistry(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.LocalIP = "127.0.9.9" // a local address no other test uses
	laddr := "127.0.9.9:0"
	s1 := startSim(t, SimConfig{}, fast)
	s2 := startSim(t, SimConfig{}, fast)
	mk := func(s *Simulator) *Driver {
		d, err := New(charger.Settings{Address: s.Addr(), Timeout: 300 * time.Millisecond}, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.t = fast
		return d
	}
	d1, d2 := mk(s1), mk(s2)
	sockets.mu.Lock()
	c, refs := sockets.conns[laddr], 0
	if c != nil {
		refs = c.refs
	}
	sockets.mu.Unlock()
	if c == nil || refs != 2 || d1.conn != c || d2.conn != c {
		t.Fatalf("registry entry %p with %d references, drivers use %p %p", c, refs, d1.conn, d2.conn)
	}
	c.mu.Lock()
	bound := c.pc != nil
	c.mu.Unlock()
	if bound {
		t.Fatal("New must not bind the socket")
	}
	if _, err := d1.localAddr(); err != nil {
		t.Fatal(err)
	}
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := d1.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("poll after Close: %v", err)
	}
	c.mu.Lock()
	bound = c.pc != nil
	c.mu.Unlock()
	if !bound {
		t.Fatal("the socket closed while a driver still uses it")
	}
	_ = d2.Close()
	sockets.mu.Lock()
	_, still := sockets.conns[laddr]
	sockets.mu.Unlock()
	c.mu.Lock()
	bound = c.pc != nil
	c.mu.Unlock()
	if still || bound {
		t.Fatalf("after the last Close: entry kept %t, socket open %t", still, bound)
	}
	// A new driver on the address gets a fresh socket that works.
	d3 := mk(s1)
	defer d3.Close()
	if _, err := d3.Poll(t.Context()); err == nil {
		t.Fatal("s1 answers to the shared test port, not to this one: the poll must time out")
	}
}

func TestDuplicateStation(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	o := testOptions()
	o.LocalIP = "127.0.9.10" // a local address no other test uses
	d, err := New(charger.Settings{Address: s.Addr()}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(charger.Settings{Address: s.Addr()}, o, nil)
	if err == nil || !strings.Contains(err.Error(), "already has the address") {
		t.Fatalf("second driver for one station: %v", err)
	}
	_ = d.Close()
	sockets.mu.Lock()
	_, left := sockets.conns["127.0.9.10:0"]
	sockets.mu.Unlock()
	if left {
		t.Fatal("the refused driver kept its reference to the socket")
	}
}

// Simulators sharing one IP are told apart by port: each answers from the
// port it was asked on.
func TestStationsOnOneIP(t *testing.T) {
	t.Parallel()
	ip := nextIP()
	port := sharedPort(t)
	var sims [2]*Simulator
	var drvs [2]*Driver
	for i := range sims {
		s := NewSimulator(SimConfig{Serial: fmt.Sprintf("3000000%d", i), ReplyPort: port})
		s.t, s.tick = fast, 50*time.Millisecond
		if err := s.Start(t.Context(), ip+":0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		sims[i], drvs[i] = s, newDriver(t, s, nil, 2*time.Second)
	}
	for i, d := range drvs {
		st, err := d.Poll(t.Context())
		if want := fmt.Sprintf("3000000%d", i); err != nil || st.Serial != want {
			t.Fatalf("driver %d: %v serial %q, want %s", i, err, st.Serial, want)
		}
	}
}

// A station that answers from another port than it was asked on is still
// found by its IP when no other charger has that IP.
func TestAnswerFromAnotherPort(t *testing.T) {
	t.Parallel()
	ip, port := nextIP(), sharedPort(t)
	in, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := udpFrom(t, ip, fmt.Sprintf("127.0.0.1:%d", port))
	go func() {
		buf := make([]byte, 64)
		for {
			n, _, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "ena 1" {
				_, _ = out.Write([]byte("TCH-OK :done"))
			}
		}
	}()
	d, err := New(charger.Settings{Address: in.LocalAddr().String(), Timeout: 2 * time.Second}, testOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatalf("answer from port %s: %v", out.LocalAddr(), err)
	}
}
