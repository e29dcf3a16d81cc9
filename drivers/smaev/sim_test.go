package smaev

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// call sends one request; bearer and a form body are optional.
func call(t *testing.T, method, url, contentType, body, bearer string) (int, http.Header, any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewBufferString(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, resp.Header, v
}

const form = "application/x-www-form-urlencoded"

func login(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	body := url.Values{"grant_type": {"password"}, "username": {SimUsername}, "password": {SimPassword}}.Encode()
	code, _, v := call(t, "POST", base+pathToken, form, body, "")
	m, _ := v.(map[string]any)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	if code != 200 || access == "" || refresh == "" || m["token_type"] != "Bearer" || m["expires_in"] == nil {
		t.Fatalf("login: %d %v", code, v)
	}
	return access, refresh
}

func oauthErr(v any) any {
	m, _ := v.(map[string]any)
	return m["error"]
}

func TestSimTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	base := "http://" + s.Addr()
	_, refresh := login(t, base)
	if _, _, v := call(t, "POST", base+pathToken, form, "grant_type=refresh_token&refresh_token=x", ""); v == nil {
		t.Fatal("no error body")
	}
	steps := []struct {
		method, ctype, body string
		code                int
		err                 string
	}{
		{"GET", "", "", 405, "method_not_allowed"},
		{"POST", "application/json", `{"grant_type":"password"}`, 400, "invalid_request"},
		{"POST", form, "username=evbridge", 400, "invalid_request"},
		{"POST", form, "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"POST", form, "grant_type=password&username=evbridge&password=nope", 400, "invalid_grant"},
		{"POST", form, "grant_type=password&username=admin&password=evbridge-sim", 400, "invalid_grant"},
		{"POST", form, "grant_type=refresh_token&refresh_token=unknown", 400, "invalid_grant"},
		{"POST", form, "grant_type=refresh_token&refresh_token=" + refresh, 200, ""},
		{"POST", form, "grant_type=refresh_token&refresh_token=" + refresh, 400, "invalid_grant"}, // spent
	}
	for _, c := range steps {
		code, _, v := call(t, c.method, base+pathToken, c.ctype, c.body, "")
		if code != c.code || c.err != "" && oauthErr(v) != c.err {
			t.Errorf("%s %q: %d %v, want %d %s", c.method, c.body, code, v, c.code, c.err)
		}
	}
	if sn := s.Snapshot(); sn.Logins != 1 || sn.Refreshes != 1 || sn.Tokens != 2 {
		t.Fatalf("%+v", sn)
	}
}

func TestSimAPI(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := startSim(t, SimConfig{Car: simcar.Config{Now: clk.Now}, TokenLifetime: 10 * time.Minute})
	base := "http://" + s.Addr()
	access, _ := login(t, base)
	ts := clk.Now().Format(timestampLayout)
	put := func(channel, value string) string {
		return `{"values":[{"timestamp":"` + ts + `","channelId":"` + channel + `","value":"` + value + `"}]}`
	}
	steps := []struct {
		method, path, body, bearer string
		code                       int
	}{
		{"POST", pathMeasurements, string(bodyMeasurements), "", 401},
		{"POST", pathMeasurements, string(bodyMeasurements), "forged", 401},
		{"POST", pathMeasurements, string(bodyMeasurements), access, 200},
		{"POST", pathMeasurements, `{"componentId":"IGULD:SELF"}`, access, 400},
		{"POST", pathMeasurements, `[{"componentId":7}]`, access, 400},
		{"POST", pathMeasurements, `[`, access, 400},
		{"GET", pathMeasurements, "", access, 405},
		{"POST", pathParameters, string(bodyParameters), access, 200},
		{"POST", strings.TrimSuffix(pathParameters, "/"), string(bodyParameters), access, 200},
		{"POST", pathParameters, `{"queryItems":{}}`, access, 400},
		{"POST", pathParameters, `[]`, access, 400},
		{"PUT", pathSetParams, put(chCurrentLimit, "10.50"), access, 204},
		{"PUT", strings.TrimSuffix(pathSetParams, "/"), put(chCurrentLimit, "11"), access, 204},
		{"PUT", pathSetParams, put(chCurrentLimit, "5.99"), access, 400},
		{"PUT", pathSetParams, put(chCurrentLimit, "32.01"), access, 400},
		{"PUT", pathSetParams, put(chCurrentLimit, "12.345"), access, 400},
		{"PUT", pathSetParams, put(chCurrentLimit, "NaN"), access, 400},
		{"PUT", pathSetParams, put(chMode, "4722"), access, 400},
		{"PUT", pathSetParams, put(chModel, "EVC99"), access, 400},            // read-only
		{"PUT", pathSetParams, put("Parameter.Nope", "1"), access, 400},       // unknown channel
		{"PUT", pathSetParams, `{"values":[]}`, access, 400},                  // nothing to write
		{"PUT", pathSetParams, `{"values":[{"channelId":"x"}]}`, access, 400}, // fields missing
		{"PUT", pathSetParams, strings.Replace(put(chMode, "4721"), ts, "yesterday", 1), access, 400},
		{"PUT", pathSetParams, strings.Replace(put(chMode, "4721"), `"value":"4721"`, `"value":4721`, 1), access, 400},
		{"PUT", pathSetParams, `{"values":[],"extra":1}`, access, 400},
		{"PUT", pathSetParams, put(chMode, "4721"), access, 204},
		{"POST", pathSetParams, put(chMode, "4721"), access, 405},
		{"POST", "/api/v1/nothing", "", access, 404},
	}
	for _, c := range steps {
		code, hdr, v := call(t, c.method, base+c.path, "application/json", c.body, c.bearer)
		if code != c.code {
			t.Errorf("%s %s %s: %d %v, want %d", c.method, c.path, c.body, code, v, c.code)
		}
		if code == 401 && hdr.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("401 without WWW-Authenticate: %v", hdr)
		}
	}
	if sn := s.Snapshot(); sn.Limit != 11 || sn.Mode != modeStop || sn.Puts != 3 {
		t.Fatalf("after the writes: %+v", sn)
	}
	// Two values in one PUT: one bad one refuses both.
	code, _, _ := call(t, "PUT", base+pathSetParams, "application/json",
		`{"values":[{"timestamp":"`+ts+`","channelId":"`+chMode+`","value":"4718"},{"timestamp":"`+ts+
			`","channelId":"`+chCurrentLimit+`","value":"99.00"}]}`, access)
	if sn := s.Snapshot(); code != 400 || sn.Mode != modeStop {
		t.Fatalf("half-bad PUT: %d %+v", code, sn)
	}

	code, _, v := call(t, "POST", base+pathParameters, "application/json", string(bodyParameters), access)
	list, _ := v.([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("parameters: %d %v", code, v)
	}
	if !strings.Contains(dump(v), `"channelId":"Parameter.Inverter.AcALim","editable":true,"state":"Confirmed","timestamp":"`+ts+`","value":"11.00"`) {
		t.Errorf("AcALim not as the device writes it: %s", dump(v))
	}
	code, _, v = call(t, "POST", base+pathMeasurements, "application/json", `[{"componentId":"Other:1"}]`, access)
	if l, _ := v.([]any); code != 200 || len(l) != 0 {
		t.Errorf("another component: %d %v", code, v)
	}

	// The eco position takes fast charging off the possible values.
	s.SetEco(true)
	if code, _, _ := call(t, "PUT", base+pathSetParams, "application/json", put(chMode, "4718"), access); code != 400 {
		t.Errorf("4718 in the eco position: %d", code)
	}
	if sn := s.Snapshot(); sn.Mode != modeOptimised {
		t.Errorf("mode after turning to eco: %q", sn.Mode)
	}

	clk.add(10 * time.Minute)
	if code, _, _ := call(t, "POST", base+pathMeasurements, "application/json", string(bodyMeasurements), access); code != 401 {
		t.Errorf("expired token: %d", code)
	}
	if n := s.Snapshot().Tokens; n != 0 {
		t.Errorf("expired token kept: %d", n)
	}
}
