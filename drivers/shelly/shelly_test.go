package shelly

import (
	"context"
	"errors"
	"math"
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

func newMeter(t testing.TB, s *Simulator, o Options) *Meter {
	t.Helper()
	m, err := New(meter.Settings{Name: "grid", Address: s.Addr(), Timeout: 3 * time.Second}, &o, nil)
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

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestRead(t *testing.T) {
	s := startSim(t, SimConfig{ImportWh: 4_321_000, ExportWh: 1_000})
	s.SetPower(1000, -500, 200)
	r := read(t, newMeter(t, s, Options{}))
	if r.Power == nil || !near(*r.Power, 700, 0.001) {
		t.Fatalf("power = %v, want 700", r.Power)
	}
	want := []float64{1000 / 230.0, -500 / 230.5, 200 / 231.0}
	if len(r.Currents) != 3 {
		t.Fatalf("currents = %v", r.Currents)
	}
	for i, a := range want {
		if !near(r.Currents[i], a, 0.001) {
			t.Errorf("current L%d = %v, want %v (signed like its phase power)", i+1, r.Currents[i], a)
		}
	}
	if !slices.Equal(r.Voltages, []float64{230, 230.5, 231}) {
		t.Errorf("voltages = %v", r.Voltages)
	}
	if r.EnergyImport == nil || *r.EnergyImport < 4321 || *r.EnergyImport > 4322 {
		t.Errorf("energy import = %v, want 4321 kWh (Wh / 1000)", r.EnergyImport)
	}
	if r.EnergyExport == nil || *r.EnergyExport != 1 {
		t.Errorf("energy export = %v, want 1 kWh", r.EnergyExport)
	}
	if !r.Measured.IsZero() || r.SoC != nil {
		t.Errorf("measured %v soc %v: the device gives neither", r.Measured, r.SoC)
	}
}

func TestDigestAuth(t *testing.T) {
	s := startSim(t, SimConfig{Password: "s3cret"})
	m := newMeter(t, s, Options{Password: "s3cret"})
	read(t, m)
	read(t, m)
	// One challenge, then the nonce is reused with nc counting up.
	if n := s.Requests("/rpc/EM.GetStatus"); n != 3 {
		t.Errorf("EM.GetStatus requests = %d, want 3 (401, then two signed)", n)
	}
	if n := s.Requests("/rpc/EMData.GetStatus"); n != 2 {
		t.Errorf("EMData.GetStatus requests = %d, want 2", n)
	}

	old := startSim(t, SimConfig{Password: "s3cret", SingleUseNonce: true})
	m = newMeter(t, old, Options{Password: "s3cret"})
	for range 3 {
		if r := read(t, m); r.EnergyImport == nil {
			t.Fatal("single-use nonces: the energy request failed")
		}
	}
	if n := old.Requests("/rpc/EM.GetStatus"); n != 6 {
		t.Errorf("single-use nonces: EM.GetStatus requests = %d, want 6 (each answered 401 once)", n)
	}

	_, err := newMeter(t, s, Options{Password: "wrong"}).Read(context.Background())
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "refused the password") {
		t.Errorf("wrong password: err = %v", err)
	}
	_, err = newMeter(t, s, Options{}).Read(context.Background())
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "set the password") {
		t.Errorf("no password: err = %v", err)
	}
}

func TestDigestRFC7616Vectors(t *testing.T) {
	// RFC 7616 §3.9.1.
	c := challenge{realm: "http-auth@example.org", nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", qop: true}
	for alg, want := range map[string]string{
		"MD5":     "8ca523f5e9506fed4657c9700eebdbec",
		"SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
	} {
		c.algorithm = alg
		got := digestResponse(c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", "00000001",
			"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if got != want {
			t.Errorf("%s response = %s, want %s", alg, got, want)
		}
	}
	ch, err := parseChallenge(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ` +
		`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
	if err != nil || !ch.qop || ch.algorithm != "SHA-256" || ch.opaque != "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS" {
		t.Errorf("parseChallenge = %+v, %v", ch, err)
	}
	for _, bad := range []string{`Basic realm="x"`, `Digest realm="x"`, `Digest nonce="n", algorithm=SHA-512-256`,
		`Digest nonce="n", qop="auth-int"`} {
		if _, err := parseChallenge(bad); err == nil {
			t.Errorf("parseChallenge(%q) accepted", bad)
		}
	}
}

func TestFaults(t *testing.T) {
	s := startSim(t, SimConfig{})
	o := Options{}
	m, err := New(meter.Settings{Name: "grid", Address: s.Addr(), Timeout: 300 * time.Millisecond}, &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fault Fault
		want  string
	}{
		{FaultGarbage, "decode EM.GetStatus"},
		{FaultHTML, "HTML"},
		{FaultEmpty, "not a JSON object"},
		{FaultMeterFailure, "power_meter_failure"},
		{FaultHang, "EM.GetStatus"},
	}
	for _, c := range cases {
		s.SetFault(c.fault)
		_, err := m.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fault %d: err = %v, want %q", c.fault, err, c.want)
		}
	}
	s.SetFault(FaultNoEnergy)
	r, err := m.Read(context.Background())
	if err != nil || r.Power == nil || r.EnergyImport != nil || r.EnergyExport != nil {
		t.Errorf("no energy: %+v, %v; want power without counters", r, err)
	}
	s.SetFault(FaultNone)
	s.SetPower(2e6, 0, 0)
	if _, err := m.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "power 2e+06 W is implausible") {
		t.Errorf("2 MW: err = %v", err)
	}
	s.SetPower(10, 10, 10)
	if _, err := newMeter(t, s, Options{ID: 3}).Read(context.Background()); err == nil || !strings.Contains(err.Error(), "rpc error -105") {
		t.Errorf("id 3: err = %v", err)
	}
	s.Close()
	if _, err := m.Read(context.Background()); err == nil {
		t.Error("read from a stopped device succeeded")
	}
}

func TestParseEMStatus(t *testing.T) {
	cases := []struct {
		body      string
		power     float64
		currents  int
		voltages  int
		notes     int
		wantError string
	}{
		{`{"total_act_power": -1234.5}`, -1234.5, 0, 0, 0, ""},
		{`{"total_act_power": 10, "a_current": 1, "b_current": null, "c_current": 2, "a_voltage": 230}`, 10, 1, 1, 0, ""},
		{`{"total_act_power": 10, "errors": ["phase_sequence"]}`, 10, 0, 0, 1, ""},
		{`{"total_act_power": null}`, 0, 0, 0, 0, "no total_act_power in"},
		{`{"a_act_power": 10}`, 0, 0, 0, 0, "no total_act_power in"},
		{`{"total_act_power": "10"}`, 0, 0, 0, 0, "decode"},
		{`{"total_act_power": 1e400}`, 0, 0, 0, 0, "decode"},
		{`{"total_act_power": 999999.9}`, 999999.9, 0, 0, 0, ""},
		{`{"total_act_power": -1000000}`, 0, 0, 0, 0, "implausible"},
		{`{"total_act_power": 1, "a_voltage": -3}`, 0, 0, 0, 0, "voltage L1 -3 V"},
		{`[1,2]`, 0, 0, 0, 0, "decode"},
	}
	for _, c := range cases {
		r, notes, err := parseEMStatus([]byte(c.body))
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) {
				t.Errorf("%s: err = %v, want %q", c.body, err, c.wantError)
			}
			continue
		}
		if err != nil || r.Power == nil || *r.Power != c.power || len(r.Currents) != c.currents ||
			len(r.Voltages) != c.voltages || len(notes) != c.notes {
			t.Errorf("%s: %+v notes %v err %v", c.body, r, notes, err)
		}
	}
	if _, _, err := parseEMData([]byte(`{"total_act": -5}`)); err == nil {
		t.Error("negative counter accepted")
	}
	imp, exp, err := parseEMData([]byte(`{"total_act": 1500, "total_act_ret": null}`))
	if err != nil || imp == nil || *imp != 1.5 || exp != nil {
		t.Errorf("parseEMData = %v %v %v", imp, exp, err)
	}
}

func TestOptionsAndRegistry(t *testing.T) {
	for _, o := range []Options{{ID: -1}, {ID: 256}, {Password: "a\nb"}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v validated", o)
		}
	}
	if _, err := New(meter.Settings{Address: "http://x/y"}, nil, nil); err == nil {
		t.Error("a URL as address accepted")
	}
	d, ok := meter.Default.Lookup("shelly_pro3em")
	if !ok || d.DefaultPort != 80 {
		t.Fatalf("driver: %+v %v", d, ok)
	}
	if !slices.ContainsFunc(charger.Simulators(), func(s charger.Simulator) bool { return s.Name == "shelly_pro3em" }) {
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
	m, err := d.New(meter.Settings{Name: "sim", Address: addr}, d.NewOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.Read(ctx); err != nil || r.Power == nil || len(r.Currents) != 3 || r.EnergyImport == nil {
		t.Fatalf("default simulator: %+v, %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRead(b *testing.B) {
	s := startSim(b, SimConfig{Password: "pw"})
	m := newMeter(b, s, Options{Password: "pw"})
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
