package httpmeter

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/meter"
)

func startSim(t testing.TB, cfg SimConfig) *Simulator {
	t.Helper()
	s := NewSimulator(cfg)
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newMeter(t testing.TB, s meter.Settings, o Options) *Meter {
	t.Helper()
	if s.Timeout == 0 {
		s.Timeout = 3 * time.Second
	}
	m, err := New(s, &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func read(t testing.TB, m *Meter) meter.Reading {
	t.Helper()
	r, err := m.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// gridOptions read the grid values of SiteDocument.
func gridOptions() Options {
	return Options{
		Power:        &Value{Path: "grid.power"},
		Currents:     []Value{{Path: "grid.currents[0]"}, {Path: "grid.currents[1]"}, {Path: "grid.currents.2"}},
		Voltages:     []Value{{Path: "grid.voltages[0]"}, {Path: "grid.voltages[1]"}, {Path: "grid.voltages[2]"}},
		EnergyImport: &Value{Path: "grid.import_wh", Scale: 0.001},
		EnergyExport: &Value{Path: "value_json.grid.export_wh", Scale: 0.001},
		TimePath:     "time",
	}
}

func TestReadSiteDocument(t *testing.T) {
	s := startSim(t, SimConfig{})
	before := time.Now().Add(-time.Second)
	// Only the address: the driver GETs http://address/.
	r := read(t, newMeter(t, meter.Settings{Name: "grid", Address: s.Addr()}, gridOptions()))
	// PV 3000 W, house 800 W, the battery takes half the surplus.
	if r.Power == nil || *r.Power != -1100 {
		t.Fatalf("power = %v, want -1100", r.Power)
	}
	if len(r.Currents) != 3 || math.Abs(r.Currents[0]+1100/3/230.0) > 0.01 {
		t.Errorf("currents = %v", r.Currents)
	}
	if !slices.Equal(r.Voltages, []float64{230, 230.5, 231}) {
		t.Errorf("voltages = %v", r.Voltages)
	}
	if r.EnergyImport == nil || *r.EnergyImport != 1000 || r.EnergyExport == nil || *r.EnergyExport < 250 {
		t.Errorf("energy = %v / %v kWh", r.EnergyImport, r.EnergyExport)
	}
	if r.Measured.Before(before) || r.Measured.After(time.Now().Add(time.Second)) {
		t.Errorf("measured = %v, want the document's time", r.Measured)
	}

	pv := read(t, newMeter(t, meter.Settings{}, Options{URL: s.URL(), Power: &Value{Path: "pv.power_kw", Scale: 1000}}))
	if pv.Power == nil || *pv.Power != 3000 || pv.Currents != nil || !pv.Measured.IsZero() {
		t.Errorf("pv reading = %+v, want 3000 W only", pv)
	}
	bat := read(t, newMeter(t, meter.Settings{}, Options{URL: s.URL(),
		Power: &Value{Path: "battery.power"}, SoC: &Value{Path: "battery.soc"}}))
	if bat.Power == nil || *bat.Power != -1100 || bat.SoC == nil || *bat.SoC != 50 {
		t.Errorf("battery reading = %+v, want -1100 W (charging) at 50 %%", bat)
	}
	flipped := read(t, newMeter(t, meter.Settings{}, Options{URL: s.URL(), Power: &Value{Path: "grid.power", Scale: -1}}))
	if flipped.Power == nil || *flipped.Power != 1100 {
		t.Errorf("scale -1: power = %v, want 1100", flipped.Power)
	}
}

func TestNullAndPartialPhases(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.SetDocument(map[string]any{"p": nil, "soc": 5, "a": []any{1.5, nil, 2.5}})
	r := read(t, newMeter(t, meter.Settings{}, Options{URL: s.URL(), Power: &Value{Path: "p"}, SoC: &Value{Path: "soc"},
		Currents: []Value{{Path: "a[0]"}, {Path: "a[1]"}, {Path: "a[2]"}}}))
	if r.Power != nil || r.SoC == nil || *r.SoC != 5 || !slices.Equal(r.Currents, []float64{1.5}) {
		t.Errorf("reading = %+v; want no power, soc 5, currents [1.5]", r)
	}
}

func TestBadReplies(t *testing.T) {
	s := startSim(t, SimConfig{})
	m := newMeter(t, meter.Settings{}, Options{URL: s.URL(), Power: &Value{Path: "p"}, SoC: &Value{Path: "soc"},
		TimePath: "t"})
	cases := []struct {
		body   string
		status int
		want   []string
	}{
		{`<html>oops</html>`, 200, []string{"decode json", "<html>"}},
		{`{"p": 5, "soc": 50, "t": 1717236000`, 200, []string{"decode json"}},
		{`{"p": "unavailable", "soc": 50, "t": 1717236000}`, 200, []string{`power (p): "unavailable" is not a number`}},
		{`{"p": "NaN", "soc": 50, "t": 1717236000}`, 200, []string{"not a finite number"}},
		{`{"soc": 50, "t": 1717236000}`, 200, []string{"power (p): no such value at p"}},
		{`{"p": 1e6, "soc": 50, "t": 1717236000}`, 200, []string{"power 1e+06 W is implausible"}},
		{`{"p": -2e6, "soc": 120, "t": 1717236000}`, 200, []string{"power -2e+06 W", "soc 120 % is implausible"}},
		{`{"p": 5, "soc": 50, "t": "noon"}`, 200, []string{`time_path (t): time "noon" is not RFC 3339`}},
		{`{"p": 5, "soc": 50, "t": 1717236000}`, 503, []string{"http 503"}},
		{``, 200, []string{"decode json"}},
	}
	for _, c := range cases {
		s.SetRaw(c.body)
		s.SetStatus(c.status)
		_, err := m.Read(context.Background())
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%d %s: err = %v, want %q", c.status, c.body, err, w)
			}
		}
	}
	s.SetStatus(200)
	s.SetRaw(`{"p": 5, "soc": 50, "t": 1717236000}`)
	if r := read(t, m); *r.Power != 5 || r.Measured.Unix() != 1717236000 {
		t.Errorf("healthy again: %+v", r)
	}
	s.Close()
	if _, err := m.Read(context.Background()); err == nil {
		t.Error("read from a stopped server succeeded")
	}
}

func TestHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer abc" || r.Header.Get("Accept") != "application/json" {
			http.Error(w, `{"message": "401: Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"state": "1.25", "last_updated": "2024-06-01T10:00:00.123456+00:00"}`))
	}))
	defer srv.Close()
	o := Options{URL: srv.URL + "/api/states/sensor.grid", Power: &Value{Path: "state", Scale: 1000}, TimePath: "last_updated"}
	if _, err := newMeter(t, meter.Settings{}, o).Read(context.Background()); err == nil || !strings.Contains(err.Error(), "http 401") {
		t.Errorf("without the header: err = %v", err)
	}
	o.Headers = map[string]string{"authorization": "Bearer abc"}
	r := read(t, newMeter(t, meter.Settings{}, o))
	if *r.Power != 1250 || r.Measured.UnixMicro() != 1717236000123456 {
		t.Errorf("home assistant state: %+v", r)
	}
}

func TestOptionsValidate(t *testing.T) {
	v := &Value{Path: "x"}
	bad := map[string]Options{
		"no value configured":      {},
		"path is empty":            {Power: &Value{}},
		"empty key":                {Power: &Value{Path: "a."}},
		"at most 3":                {Power: v, Currents: []Value{*v, *v, *v, *v}},
		"not an http or https URL": {Power: v, URL: "ftp://x/"},
		"single-line header":       {Power: v, Headers: map[string]string{"X-A": "b\r\nc"}},
		"is not a number":          {Power: &Value{Path: "x", Scale: math.NaN()}},
		"time_path":                {Power: v, TimePath: "[x"},
	}
	for want, o := range bad {
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q", o, err, want)
		}
	}
	if err := (&Options{SoC: v}).Validate(); err != nil {
		t.Error(err)
	}
	if _, err := New(meter.Settings{}, &Options{SoC: v}, nil); err == nil {
		t.Error("neither url nor address: accepted")
	}
}

func TestRegistered(t *testing.T) {
	d, ok := meter.Default.Lookup("http_json")
	if !ok {
		t.Fatal("driver http_json not registered")
	}
	if !slices.ContainsFunc(charger.Simulators(), func(s charger.Simulator) bool { return s.Name == "http_json" }) {
		t.Fatal("simulator not registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- runSimulator(ctx, "127.0.0.1:0", func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	o := d.NewOptions().(*Options)
	*o = gridOptions()
	m, err := d.New(meter.Settings{Name: "sim", Address: addr}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.Read(ctx); err != nil || r.Power == nil || len(r.Currents) != 3 {
		t.Fatalf("default simulator: %+v, %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// FuzzReading feeds arbitrary replies to the value extraction: no
// panic, and what comes out is plausible.
func FuzzReading(f *testing.F) {
	o := gridOptions()
	o.SoC = &Value{Path: "battery.soc"}
	c, err := o.compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"time":"2024-06-01T12:00:00Z","grid":{"power":-1100,"currents":[1,2,3],"voltages":[230,230,230],` +
		`"import_wh":1e6,"export_wh":5},"battery":{"soc":"50.5"}}`))
	f.Add([]byte(`{"grid":{"power":null,"currents":[null]},"battery":{"soc":null},"time":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := c.reading(body)
		if err == nil {
			if err := meter.CheckReading(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	s := startSim(b, SimConfig{})
	m := newMeter(b, meter.Settings{Address: s.Addr()}, gridOptions())
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
