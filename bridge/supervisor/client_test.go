package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSupervisor answers GET /services/mqtt with the given status and body
// and counts the calls; it fails the test on a wrong token.
func fakeSupervisor(t *testing.T, status func(n int) (int, string)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if r.URL.Path != "/services/mqtt" || r.Method != http.MethodGet {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("Authorization = %q", got)
		}
		code, body := status(n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMQTTService(t *testing.T) {
	cases := []struct {
		name    string
		code    int
		body    string
		want    MQTTService
		wantErr error
		errText string
	}{
		{name: "int port, v1 addon", code: 200,
			body: `{"result":"ok","data":{"addon":"core_mosquitto","host":"core-mosquitto","port":1883,"ssl":false,"username":"addons","password":"pw","protocol":"3.1.1"}}`,
			want: MQTTService{Host: "core-mosquitto", Port: 1883, Username: "addons", Password: "pw", Protocol: "3.1.1", Addon: "core_mosquitto"}},
		{name: "string port, v2 app, ssl", code: 200,
			body: `{"result":"ok","data":{"app":"core_mosquitto","host":"core-mosquitto","port":"8883","ssl":true,"username":"u","password":"p"}}`,
			want: MQTTService{Host: "core-mosquitto", Port: 8883, SSL: true, Username: "u", Password: "p", Addon: "core_mosquitto"}},
		{name: "not enabled", code: 400, body: `{"result":"error","message":"Service not enabled"}`, wantErr: ErrServiceNotEnabled},
		{name: "unauthorized", code: 401, body: `{"result":"error","message":"Invalid token"}`, wantErr: ErrUnauthorized},
		{name: "server error", code: 500, body: `{"result":"error","message":"boom"}`, wantErr: errServer, errText: "HTTP 500: boom"},
		{name: "html", code: 200, body: `<html>`, errText: "something other than JSON"},
		{name: "bad port", code: 200, body: `{"result":"ok","data":{"host":"h","port":"x"}}`, errText: `port: expected a number, got "x"`},
		{name: "port range", code: 200, body: `{"result":"ok","data":{"host":"h","port":70000}}`, errText: "70000 is not a TCP port"},
		{name: "no host", code: 200, body: `{"result":"ok","data":{"port":1883}}`, errText: "no host"},
		{name: "error result", code: 200, body: `{"result":"error","message":"nope"}`, errText: `result "error": nope`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := fakeSupervisor(t, func(int) (int, string) { return c.code, c.body })
			got, err := (&Client{BaseURL: srv.URL, Token: "tok"}).MQTT(context.Background())
			if c.wantErr == nil && c.errText == "" {
				if err != nil || got != c.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
				}
				return
			}
			if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) || !strings.Contains(err.Error(), c.errText) {
				t.Fatalf("err = %v; want %v containing %q", err, c.wantErr, c.errText)
			}
		})
	}
}

func TestBrokerURL(t *testing.T) {
	for s, want := range map[MQTTService]string{
		{Host: "core-mosquitto", Port: 1883}:       "tcp://core-mosquitto:1883",
		{Host: "192.0.2.1", Port: 8883, SSL: true}: "mqtts://192.0.2.1:8883",
		{Host: "fd00::1", Port: 1883}:              "tcp://[fd00::1]:1883",
	} {
		if got := s.BrokerURL(); got != want {
			t.Errorf("%+v: %s, want %s", s, got, want)
		}
	}
}

var fast = Retry{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}

// The broker is retried while Mosquitto is not up yet, then found.
func TestWaitMQTTRetriesUntilEnabled(t *testing.T) {
	srv, calls := fakeSupervisor(t, func(n int) (int, string) {
		if n < 3 {
			return 400, `{"result":"error","message":"Service not enabled"}`
		}
		return 200, `{"result":"ok","data":{"host":"h","port":1883}}`
	})
	s, err := WaitMQTT(context.Background(), &Client{BaseURL: srv.URL, Token: "tok"}, fast, quietLog())
	if err != nil || s.Host != "h" || calls.Load() != 3 {
		t.Fatalf("got %+v, %v after %d calls", s, err, calls.Load())
	}
}

func TestWaitMQTTGivesUp(t *testing.T) {
	cases := []struct {
		name  string
		code  int
		body  string
		calls int32
		want  string
	}{
		{"not enabled", 400, `{"result":"error","message":"Service not enabled"}`, 4, "install and start the Mosquitto broker add-on"},
		{"500", 500, `{"result":"error","message":"boom"}`, 4, "HTTP 500"},
		{"401 is not retried", 401, `{"result":"error","message":"Invalid token"}`, 1, "restart the add-on"},
		{"garbage is not retried", 200, `{"result":"ok","data":[]}`, 1, "service data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, calls := fakeSupervisor(t, func(int) (int, string) { return c.code, c.body })
			_, err := WaitMQTT(context.Background(), &Client{BaseURL: srv.URL, Token: "tok"}, fast, quietLog())
			if err == nil || !strings.Contains(err.Error(), c.want) || calls.Load() != c.calls {
				t.Fatalf("err = %v after %d calls; want %q after %d", err, calls.Load(), c.want, c.calls)
			}
		})
	}
}

func TestWaitMQTTUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = WaitMQTT(context.Background(), &Client{BaseURL: "http://" + addr, Token: "tok"}, fast, quietLog())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "must run as a Home Assistant add-on") {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitMQTTStopsWithContext(t *testing.T) {
	srv, _ := fakeSupervisor(t, func(int) (int, string) { return 500, `{}` })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := WaitMQTT(ctx, &Client{BaseURL: srv.URL, Token: "tok"}, Retry{Attempts: 100, Initial: time.Hour}, quietLog())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
