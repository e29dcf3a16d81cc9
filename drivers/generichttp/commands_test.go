package generichttp

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// fakeBox records requests and answers each with the code and body given
// for its path.
type fakeBox struct {
	mu      sync.Mutex
	got     []string // "METHOD path body header"
	replies map[string]reply
}

type reply struct {
	code int
	body string
}

func (f *fakeBox) handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r.Method+" "+r.URL.RequestURI()+" "+string(b)+" "+r.Header.Get("X-Token"))
	rep, ok := f.replies[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		rep = reply{200, `{"state":"B","ok":true}`}
	}
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeBox) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

func (f *fakeBox) answer(path string, code int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[path] = reply{code, body}
}

const boxDef = `
brand: Box
model: One
headers: {X-Token: secret}
requests:
  state: {path: /state}
state:
  status: {path: state}
  enabled: {path: ok}
current_range: {min: 6, max: 16, step: 0.5}
commands:
  set_current:
    method: POST
    path: /current
    headers: {Content-Type: application/json}
    body: '{"milliamps": {{mul .Value 1000 | int}}}'
    check: {path: result, equals: done}
  enable:
    method: PUT
    path: "/enable/{{.Value}}"
keep_alive: {interval: 10s, method: POST, path: /ping}
`

func boxDriver(t *testing.T, def string) (*fakeBox, charger.Charger) {
	t.Helper()
	box := &fakeBox{replies: map[string]reply{}}
	addr := serve(t, box.handle)
	o, err := decodeStrict([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(charger.Settings{Address: addr, Timeout: 2 * time.Second, MaxCurrent: 12.7}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.(charger.Closer).Close() })
	return box, c
}

func TestCommandsAsDefined(t *testing.T) {
	t.Parallel()
	box, c := boxDriver(t, boxDef)
	ctx := t.Context()
	st, err := c.Poll(ctx)
	if err != nil || st.Status != charger.StatusConnected || st.Brand != "Box" || st.Model != "One" || !*st.Enabled {
		t.Fatalf("poll: %v %s", err, dump(st))
	}
	cs := c.(charger.CurrentSetter)
	if lo, hi, step := cs.CurrentRange(); lo != 6 || hi != 12.5 || step != 0.5 {
		t.Fatalf("range %v..%v/%v, want 6..12.5/0.5 (max_current 12.7 on the grid)", lo, hi, step)
	}
	box.answer("/current", 200, `{"result":"done"}`)
	if err := cs.SetCurrent(ctx, 10.74); err != nil {
		t.Fatal(err)
	}
	if err := c.(charger.Enabler).SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c.(charger.Watchdogged).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /state  secret",
		`POST /current {"milliamps": 10500} secret`,
		"PUT /enable/false  secret",
		"POST /ping  secret",
	}
	if got := box.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("box got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := c.(charger.Watchdogged).RefreshInterval(); got != 10*time.Second {
		t.Fatalf("refresh interval %v", got)
	}
	if _, ok := c.(charger.PhaseSwitcher); ok {
		t.Fatal("no set_phases command, yet the driver claims phase switching")
	}
}

func TestCommandReplies(t *testing.T) {
	t.Parallel()
	box, c := boxDriver(t, boxDef)
	ctx := t.Context()
	cs, en := c.(charger.CurrentSetter), c.(charger.Enabler)
	for _, r := range []struct {
		code      int
		body, msg string
		want      error
	}{
		{200, `{"result":"done"}`, "", nil},
		{500, `{"result":"too high"}`, `result is "too high"`, charger.ErrRejected},
		{200, `{"other":1}`, "reply has no result", charger.ErrBadReply},
		{502, `<html>bad gateway</html>`, "http 502", charger.ErrBadReply},
		{400, `nope`, "http 400", charger.ErrRejected},
	} {
		box.answer("/current", r.code, r.body)
		err := cs.SetCurrent(ctx, 8)
		if !errors.Is(err, r.want) || r.want != nil && !strings.Contains(err.Error(), r.msg) {
			t.Errorf("set current, reply %d %s: %v, want %v mentioning %q", r.code, r.body, err, r.want, r.msg)
		}
	}
	for _, r := range []struct {
		code int
		want error
	}{{204, nil}, {403, charger.ErrRejected}, {404, charger.ErrBadReply}, {500, charger.ErrBadReply}} {
		box.answer("/enable/true", r.code, "")
		if err := en.SetEnabled(ctx, true); !errors.Is(err, r.want) {
			t.Errorf("enable, reply %d: %v, want %v", r.code, err, r.want)
		}
	}
}

func TestCapabilitiesFollowTheDefinition(t *testing.T) {
	t.Parallel()
	base := "requests:\n  r: {path: /s}\nstate:\n  status: {path: s}\n"
	cur := "current_range: {min: 6, max: 16, step: 1}\n"
	cases := []struct {
		cmds                          string
		current, enable, phases, keep bool
	}{
		{"", false, false, false, false},
		{cur + "commands:\n  set_current: {path: \"/c?a={{.Value}}\"}\n", true, false, false, false},
		{"commands:\n  enable: {path: /e}\n", false, true, false, false},
		{"commands:\n  set_phases: {path: /p}\n", false, false, true, false},
		{cur + "commands:\n  set_current: {path: /c}\n  enable: {path: /e}\n", true, true, false, false},
		{cur + "commands:\n  set_current: {path: /c}\n  set_phases: {path: /p}\n", true, false, true, false},
		{"commands:\n  enable: {path: /e}\n  set_phases: {path: /p}\n", false, true, true, false},
		{cur + "commands:\n  set_current: {path: /c}\n  enable: {path: /e}\n  set_phases: {path: /p}\n" +
			"keep_alive: {interval: 1s, path: /k}\n", true, true, true, true},
	}
	for i, c := range cases {
		o, err := decodeStrict([]byte(base + c.cmds))
		if err != nil {
			t.Fatal(err)
		}
		ch, err := New(charger.Settings{Address: "192.0.2.9"}, o, nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		_, cs := ch.(charger.CurrentSetter)
		_, en := ch.(charger.Enabler)
		_, ph := ch.(charger.PhaseSwitcher)
		keep := ch.(charger.Watchdogged).RefreshInterval() > 0
		if cs != c.current || en != c.enable || ph != c.phases || keep != c.keep {
			t.Errorf("case %d: capabilities %t %t %t %t, want %t %t %t %t", i, cs, en, ph, keep,
				c.current, c.enable, c.phases, c.keep)
		}
	}
}

// A value that renders a path the charger cannot take never leaves.
func TestRenderedPathChecked(t *testing.T) {
	t.Parallel()
	box, c := boxDriver(t, strings.Replace(boxDef, `path: "/enable/{{.Value}}"`, `path: "/enable/{{if .Value}}on now{{end}}"`, 1))
	if err := c.(charger.Enabler).SetEnabled(t.Context(), true); err == nil || !strings.Contains(err.Error(), "not a request path") {
		t.Fatalf("bad rendered path: %v", err)
	}
	if got := box.take(); len(got) != 0 {
		t.Fatalf("sent %q", got)
	}
}
