package ocpp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/gorilla/websocket"
)

// rawCP is a hand-driven charge point: it sends what a test tells it and
// never answers the central system's calls.
type rawCP struct {
	t *testing.T
	c *websocket.Conn
}

func dialRaw(t *testing.T, url string, protos []string, user, pass string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	c, resp, err := d.Dial(url, h)
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

func connectRaw(t *testing.T, url string) *rawCP {
	t.Helper()
	c, _, err := dialRaw(t, url, []string{ProtoOCPP16}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &rawCP{t: t, c: c}
}

func (r *rawCP) send(frame string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		r.t.Fatal(err)
	}
}

// reply reads until the answer to uid, skipping the central system's own
// calls. The read deadline only catches a hang.
func (r *rawCP) reply(uid string) []any {
	r.t.Helper()
	for {
		_ = r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, msg, err := r.c.ReadMessage()
		if err != nil {
			r.t.Fatalf("waiting for the answer to %s: %v", uid, err)
		}
		var f []any
		if err := json.Unmarshal(msg, &f); err != nil || len(f) < 3 {
			r.t.Fatalf("central system sent a malformed frame: %s", msg)
		}
		if f[0] == float64(2) {
			continue
		}
		if f[1] != uid {
			r.t.Fatalf("answer to %v arrived while waiting for %s: %s", f[1], uid, msg)
		}
		return f
	}
}

const bootFrame = `[2,"boot","BootNotification",{"chargePointVendor":"Raw","chargePointModel":"Raw"}]`

func TestMalformedFramesAndOthersUnaffected(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	good := newDriver(t, reg, "good", nil)
	runSim(t, cs.URL(), simConfig("good"))
	pollUntil(t, good, "the good charge point charging", charging)

	r := connectRaw(t, cs.URL()+"/raw")
	r.send(bootFrame)
	if f := r.reply("boot"); f[0] != float64(3) {
		t.Fatalf("boot answer: %v", f)
	}
	probe := func(after string) {
		t.Helper()
		r.send(`[2,"probe","Heartbeat",{}]`)
		if f := r.reply("probe"); f[0] != float64(3) {
			t.Fatalf("after %s the heartbeat probe got %v", after, f)
		}
	}
	// Frames without a usable message id get no answer, and the
	// connection stays up.
	for _, frame := range []string{`not json`, `{"a":1}`, `[2,"m1"]`, `[3,"nobody",{}]`, `[]`, `[2,5,"Heartbeat",{}]`} {
		r.send(frame)
		probe(frame)
	}
	if err := r.c.WriteMessage(websocket.BinaryMessage, []byte(`[2,"bin","Heartbeat",{}]`)); err != nil {
		t.Fatal(err)
	}
	probe("a binary frame")

	long := strings.Repeat("x", 21)
	tests := []struct{ frame, code string }{
		{`[2,"m2","Heartbeat"]`, "FormationViolation"},
		{`[2,"m3","FooBar",{}]`, "NotImplemented"},
		{`[2,"m4","BootNotification",{"chargePointVendor":"x"}]`, "OccurrenceConstraintViolation"},
		{`[2,"m5","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]`, "TypeConstraintViolation"},
		{`[2,"m6","BootNotification",{"chargePointVendor":"` + long + `","chargePointModel":"m"}]`, "PropertyConstraintViolation"},
		{`[9,"m7","Heartbeat",{}]`, "FormationViolation"},
		{`[2,"m8","Reset",{"type":"Hard"}]`, "NotSupported"},
		{`[2,"m9","StatusNotification",{"connectorId":999,"errorCode":"NoError","status":"Available"}]`, "PropertyConstraintViolation"},
		{`[2,"m10","MeterValues",{"connectorId":1,"meterValue":[]}]`, "PropertyConstraintViolation"},
	}
	for _, tc := range tests {
		var uid string
		var f []any
		_ = json.Unmarshal([]byte(tc.frame), &f)
		uid, _ = f[1].(string)
		r.send(tc.frame)
		got := r.reply(uid)
		if got[0] != float64(4) || got[2] != tc.code {
			t.Errorf("%s: answer %v, want CALLERROR %s", tc.frame, got, tc.code)
		}
	}
	probe("the schema errors")

	// The well-behaved charge point never noticed.
	if err := good.SetCurrent(t.Context(), 11); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, good, "the good charge point at 11 A", func(st charger.State) bool {
		return len(st.Currents) == 3 && near(st.Currents[0], 11)
	})
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxFrameBytes = 4096
	cs, reg, _ := startCS(t, cfg)
	good := newDriver(t, reg, "good", nil)
	runSim(t, cs.URL(), simConfig("good"))
	pollUntil(t, good, "charging", charging)

	r := connectRaw(t, cs.URL()+"/big")
	// The write may fail already: the central system hangs up mid-frame.
	_ = r.c.WriteMessage(websocket.TextMessage,
		[]byte(`[2,"big","DataTransfer",{"vendorId":"x","data":"`+strings.Repeat("A", 8192)+`"}]`))
	_ = r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var err error
	for err == nil {
		_, _, err = r.c.ReadMessage()
	}
	// Close 1009 normally; a reset when unread bytes made the close frame
	// get lost. Never a timeout: the connection must be closed.
	var ne net.Error
	var ce *websocket.CloseError
	if errors.As(err, &ne) && ne.Timeout() || errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: read error %v, want close 1009 or a reset", err)
	}
	if err := good.SetCurrent(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, good, "still charging", charging)
}

func TestChargePointThatNeverAnswers(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CallTimeout = 300 * time.Millisecond
	cs, reg, _ := startCS(t, cfg)
	good := newDriver(t, reg, "good", nil)
	runSim(t, cs.URL(), simConfig("good"))
	pollUntil(t, good, "charging", charging)

	silent := newDriver(t, reg, "silent", nil)
	r := connectRaw(t, cs.URL()+"/silent")
	r.send(bootFrame)
	r.reply("boot")
	go func() { // drain, answer nothing
		for {
			if _, _, err := r.c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- silent.SetCurrent(context.Background(), 10) }()
	// Meanwhile the others are served: every timeout of the silent one
	// fires while the good one answers.
	for _, a := range []float64{7, 8, 9, 10, 11, 12, 13, 14} {
		if err := good.SetCurrent(t.Context(), a); err != nil {
			t.Fatalf("good charge point, %v A: %v", a, err)
		}
	}
	if err := <-errc; !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("SetCurrent on a silent charge point = %v, want ErrNoAnswer", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := silent.SetCurrent(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetCurrent past its context = %v, want DeadlineExceeded", err)
	}
	if _, err := silent.Poll(t.Context()); err != nil {
		t.Fatalf("poll of a connected but silent charge point: %v", err)
	}
}

func TestUnknownChargePointPolicies(t *testing.T) {
	t.Parallel()
	t.Run("accept", func(t *testing.T) {
		t.Parallel()
		cs, _, host := startCS(t, testConfig())
		s := runSim(t, cs.URL(), simConfig("stranger"))
		simUntil(t, s, "accepted", func(sn SimSnapshot) bool { return sn.Registered })
		eventually(t, "an offer with identity", func() (bool, any) {
			o, ok := host.last("stranger")
			return ok && o.Online && !o.Pending && o.Identity.Serial == "SIM-stranger" && o.Detail == ProtoOCPP16, o
		})
	})
	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Unknown = UnknownPending
		cs, reg, host := startCS(t, cfg)
		s := runSim(t, cs.URL(), simConfig("stranger"))
		simUntil(t, s, "held pending", func(sn SimSnapshot) bool { return sn.Boots >= 1 && sn.Connected })
		if sn := s.Snapshot(); sn.Registered || sn.TxActive {
			t.Fatalf("a pending charge point was accepted: %s", dump(sn))
		}
		eventually(t, "a pending offer", func() (bool, any) {
			o, ok := host.last("stranger")
			return ok && o.Online && o.Pending && o.Identity.Brand == "evbridge", o
		})
		// A user adopts it: the core configures a charger for it.
		d := newDriver(t, reg, "stranger", nil)
		simUntil(t, s, "accepted after adoption", func(sn SimSnapshot) bool { return sn.Registered })
		pollUntil(t, d, "charging", charging)
	})
	t.Run("refuse", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Unknown = UnknownRefuse
		cs, reg, host := startCS(t, cfg)
		_, resp, err := dialRaw(t, cs.URL()+"/stranger", []string{ProtoOCPP16}, "", "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown charge point under refuse: err %v resp %v, want HTTP 404", err, resp)
		}
		if _, ok := host.last("stranger"); ok {
			t.Fatal("a refused charge point was offered")
		}
		d := newDriver(t, reg, "known", nil)
		runSim(t, cs.URL(), simConfig("known"))
		pollUntil(t, d, "the known one charging", charging)
	})
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Unknown = UnknownRefuse
	cfg.ChargePoints = []KnownChargePoint{{ID: "listed", Password: "pw-listed"}}
	cs, reg, _ := startCS(t, cfg)
	d := newDriver(t, reg, "CP1", &Options{Connector: 1, Password: "s3cret"})
	for _, tc := range []struct{ id, user, pass string }{
		{"CP1", "", ""}, {"CP1", "CP1", "wrong"}, {"CP1", "other", "s3cret"}, {"listed", "", ""}, {"listed", "listed", "s3cret"},
	} {
		_, resp, err := dialRaw(t, cs.URL()+"/"+tc.id, []string{ProtoOCPP16}, tc.user, tc.pass)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s as %q/%q: err %v resp %v, want HTTP 401 with a challenge", tc.id, tc.user, tc.pass, err, resp)
		}
	}
	cfgSim := simConfig("CP1")
	cfgSim.Password = "s3cret"
	runSim(t, cs.URL(), cfgSim)
	pollUntil(t, d, "charging with the right password", charging)

	listed := simConfig("listed")
	listed.Password = "pw-listed"
	s := runSim(t, cs.URL(), listed)
	simUntil(t, s, "the listed charge point accepted", func(sn SimSnapshot) bool { return sn.Registered })
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.PathPrefix = "/ocpp/v1"
	cfg.Protocols = []string{ProtoOCPP16}
	cs, _, _ := startCS(t, cfg)
	base := strings.TrimSuffix(cs.URL(), "/ocpp/v1")
	if !strings.HasSuffix(cs.URL(), "/ocpp/v1") {
		t.Fatalf("URL %s lacks the prefix", cs.URL())
	}
	c, _, err := dialRaw(t, cs.URL()+"/CPX", []string{ProtoOCPP201, ProtoOCPP16}, "", "")
	if err != nil || c.Subprotocol() != ProtoOCPP16 {
		t.Fatalf("negotiation: err %v, subprotocol %q", err, c.Subprotocol())
	}
	c, _, err = dialRaw(t, cs.URL()+"/CPY", nil, "", "")
	if err != nil || c.Subprotocol() != "" {
		t.Fatalf("a client without subprotocol is taken as 1.6: err %v", err)
	}
	for _, tc := range []struct {
		url    string
		protos []string
		code   int
	}{
		{cs.URL() + "/CPZ", []string{"ocpp1.5"}, http.StatusBadRequest},
		{base + "/CPZ", []string{ProtoOCPP16}, http.StatusNotFound},
		{cs.URL() + "/", []string{ProtoOCPP16}, http.StatusNotFound},
		{cs.URL() + "/a/b", []string{ProtoOCPP16}, http.StatusNotFound},
		{cs.URL() + "/a%20b", []string{ProtoOCPP16}, http.StatusNotFound},
	} {
		_, resp, err := dialRaw(t, tc.url, tc.protos, "", "")
		if err == nil || resp == nil || resp.StatusCode != tc.code {
			t.Errorf("%s %v: err %v resp %v, want HTTP %d", tc.url, tc.protos, err, resp, tc.code)
		}
	}
}
