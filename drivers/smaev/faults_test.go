package smaev

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	short, err := New(charger.Settings{Address: s.Addr(), Timeout: 100 * time.Millisecond}, simOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault(FaultHang)
	if _, err := short.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung login: %v, want DeadlineExceeded", err)
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
	// Logged in, then the device hangs mid-poll.
	d, err := New(charger.Settings{Address: s.Addr(), Timeout: 200 * time.Millisecond}, simOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault(FaultNone)
	pollUntil(t, d, "a poll in time", func(charger.State) bool { return true })
	s.SetFault(FaultHang)
	if _, err := d.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung poll: %v, want DeadlineExceeded", err)
	}
}

// A server that accepts connections and never says a word.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	d, err := New(charger.Settings{Address: ln.Addr().String(), Timeout: 150 * time.Millisecond}, simOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Poll(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server: %v, want DeadlineExceeded", err)
	}
	if err := d.SetEnabled(t.Context(), true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server, command: %v, want DeadlineExceeded", err)
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	d := newDriver(t, s.Addr(), nil)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
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
		// A fresh driver meets the fault at the login.
		if _, err := newDriver(t, s.Addr(), nil).Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("fault %d: login %v, want ErrBadReply", c.fault, err)
		}
	}
	s.SetFault(FaultNone)
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	if s.Snapshot().Puts != 0 {
		t.Fatal("a command went through a broken reply")
	}
	d.base += "/nothing"
	if _, err := d.Poll(t.Context()); !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), "http 404") {
		t.Fatalf("404: %v", err)
	}
}

// fakeDevice answers the login and then the canned bodies.
func fakeDevice(t *testing.T, token, meas, params string, putCode int) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch req.URL.Path {
		case pathToken:
			_, _ = w.Write([]byte(token))
		case pathMeasurements:
			_, _ = w.Write([]byte(meas))
		case pathParameters:
			_, _ = w.Write([]byte(params))
		default:
			w.WriteHeader(putCode)
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

const (
	goodToken  = `{"access_token":"abc","token_type":"Bearer","expires_in":3600,"refresh_token":"def"}`
	goodMeas   = `[{"channelId":"Measurement.Operation.EVeh.ChaStt","componentId":"IGULD:SELF","values":[{"time":"2026-06-01T12:00:00.000Z","value":200111}]}]`
	goodParams = `[{"componentId":"IGULD:SELF","values":[{"channelId":"Parameter.Inverter.AcALim","value":"16.00"}]}]`
)

func TestWrongTypesAndNaN(t *testing.T) {
	t.Parallel()
	// ch lists channels: id, value, id, value...
	ch := func(idValue ...string) string {
		var parts []string
		for i := 0; i+1 < len(idValue); i += 2 {
			parts = append(parts, `{"channelId":"`+idValue[i]+`","componentId":"IGULD:SELF","values":[{"value":`+idValue[i+1]+`}]}`)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	param := func(id, value string) string {
		return `[{"componentId":"IGULD:SELF","values":[{"channelId":"` + id + `","value":` + value + `}]}]`
	}
	cases := []struct {
		name, token, meas, params, want string
	}{
		{"state as a string", goodToken, ch(chState, `"200111"`), goodParams, "want a number"},
		{"NaN literal", goodToken, ch(chState, `NaN`), goodParams, "bad JSON"},
		{"huge number", goodToken, ch(chState, `200111`, chPower, `1e400`), goodParams, "want a number"},
		{"power out of range", goodToken, ch(chState, `200111`, chPower, `-1e9`), goodParams, "outside"},
		{"state not whole", goodToken, ch(chState, `200111.5`), goodParams, "not an integer"},
		{"no state", goodToken, ch(chPower, `0`), goodParams, "no channel"},
		{"object, not a list", goodToken, `{"channelId":"x"}`, goodParams, "not a JSON array"},
		{"values not a list", goodToken, `[{"channelId":"` + chState + `","values":{"value":1}}]`, goodParams, "values"},
		{"channelId a number", goodToken, `[{"channelId":7,"values":[]}]`, goodParams, "measurements element 0"},
		{"limit NaN string", goodToken, goodMeas, param(chCurrentLimit, `"NaN"`), "NaN outside"},
		{"limit a number", goodToken, goodMeas, param(chCurrentLimit, `16`), "want a string"},
		{"limit not numeric", goodToken, goodMeas, param(chCurrentLimit, `"sixteen"`), "want a number in a string"},
		{"model with control bytes", goodToken, goodMeas, param(chModel, `"EVC\u0000"`), "implausible"},
		{"parameters not a list", goodToken, goodMeas, `[{"componentId":"IGULD:SELF","values":7}]`, "not a JSON array"},
		{"token without access_token", `{"token_type":"Bearer"}`, goodMeas, goodParams, "no access_token"},
		{"token wrong type", `{"access_token":5}`, goodMeas, goodParams, "want a string"},
		{"token expires_in string", `{"access_token":"a","expires_in":"3600"}`, goodMeas, goodParams, "want a number"},
		{"token not bearer", `{"access_token":"a","token_type":"mac"}`, goodMeas, goodParams, "want Bearer"},
		{"token with a space", `{"access_token":"a b"}`, goodMeas, goodParams, "white space"},
	}
	for _, c := range cases {
		d := newDriver(t, fakeDevice(t, c.token, c.meas, c.params, http.StatusNoContent), nil)
		_, err := d.Poll(t.Context())
		if !errors.Is(err, charger.ErrBadReply) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadReply mentioning %q", c.name, err, c.want)
		}
	}
	// The canned good replies decode; unknown channels of any shape are
	// skipped; the PUT's answer is checked.
	odd := `[{"channelId":"Measurement.Other","values":{"weird":true}},` + goodMeas[1:]
	d := newDriver(t, fakeDevice(t, goodToken, odd, goodParams, http.StatusNoContent), nil)
	st, err := d.Poll(t.Context())
	if err != nil || st.IEC != charger.IECA || *st.CurrentLimit != 16 {
		t.Fatalf("good replies: %v %s", err, dump(st))
	}
	if err := d.SetCurrent(t.Context(), 10); err != nil {
		t.Fatalf("204: %v", err)
	}
	for code, want := range map[int]error{http.StatusBadRequest: charger.ErrRejected, http.StatusInternalServerError: charger.ErrBadReply} {
		d := newDriver(t, fakeDevice(t, goodToken, goodMeas, goodParams, code), nil)
		if err := d.SetCurrent(t.Context(), 10); !errors.Is(err, want) {
			t.Errorf("PUT answered %d: %v, want %v", code, err, want)
		}
	}
}
