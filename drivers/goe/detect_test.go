package goe

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestDetectAPI(t *testing.T) {
	t.Parallel()
	v2 := startSim(t, SimConfig{})
	if v, err := DetectAPI(t.Context(), v2.Addr()); err != nil || v != 2 {
		t.Fatalf("v2 box: %d %v", v, err)
	}
	if got := v2.Requests(); got["/api/status"] != 1 || len(got) != 1 {
		t.Errorf("detecting a v2 box cost %v, want one /api/status", got)
	}

	v1 := startSimV1(t, SimConfig{})
	if v, err := DetectAPI(t.Context(), v1.Addr()); err != nil || v != 1 {
		t.Fatalf("v1 box: %d %v", v, err)
	}
	if got := v1.Requests(); got["/api/status"] != 1 || got["/status"] != 1 || len(got) != 2 {
		t.Errorf("detecting a v1 box cost %v, want /api/status then /status", got)
	}

	// A v2 box whose /api/status is broken is not taken for a v1 box.
	v2.SetFault(FaultGarbage)
	if _, err := DetectAPI(t.Context(), v2.Addr()); !errors.Is(err, charger.ErrBadReply) {
		t.Errorf("garbage: %v, want ErrBadReply", err)
	}
}

func TestDetectAPINotAGoE(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{
		"web page": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>router</html>")
		},
		"other json": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"state":1,"amp":0}`)
		},
		"not found": http.NotFound,
	} {
		addr := startHTTP(t, h)
		if v, err := DetectAPI(t.Context(), addr); !errors.Is(err, charger.ErrBadReply) || v != 0 {
			t.Errorf("%s: %d %v, want ErrBadReply", name, v, err)
		}
	}
	// Nobody listening: the network error, not "not a go-e".
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if _, err := DetectAPI(t.Context(), addr); err == nil || errors.Is(err, charger.ErrBadReply) {
		t.Errorf("closed port: %v, want a connection error", err)
	}
	if _, err := DetectAPI(t.Context(), ""); err == nil {
		t.Error("empty address accepted")
	}
}
