package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimulateJSONAndPlot(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "day.svg")
	code, out, errOut := run(t, "simulate", "--trace", "testdata/two-days.csv", "--json", "--plot", plot, "--day", "2024-06-01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "skipped") {
		t.Errorf("the bad row was not reported: %q", errOut)
	}
	var r map[string]float64
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"pv_kwh", "surplus_kwh", "car_kwh", "car_pv_kwh", "grid_import_kwh", "export_kwh", "starts", "over_limit_s", "oracle_kwh", "oracle_ratio"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if r["pv_kwh"] < 50 || r["car_kwh"] <= 0 || r["car_pv_kwh"] > r["car_kwh"]+1e-9 || r["over_limit_s"] != 0 {
		t.Errorf("implausible figures: %v", r)
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !strings.Contains(string(svg), "<polyline") || strings.Count(string(svg), "<polyline") != 4 {
		t.Errorf("plot: %v, %d bytes", err, len(svg))
	}
}

func TestSimulateTable(t *testing.T) {
	code, out, errOut := run(t, "simulate", "--trace", "testdata/two-days.csv", "--mode", "minpv", "--phases", "1", "--switch-phases=false", "--car", "lagging", "--car-battery", "20")
	if code != 0 || !strings.Contains(out, "evcc-like") || !strings.Contains(out, "car PV / oracle") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestSimulateBadInput(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"simulate"}, 2, "--trace is required"},
		{[]string{"simulate", "--trace", "testdata/nope.csv"}, 1, "no such file"},
		{[]string{"simulate", "--trace", "testdata/two-days.csv", "--mode", "turbo"}, 1, `--mode "turbo"`},
		{[]string{"simulate", "--trace", "testdata/two-days.csv", "--plot", "x.svg"}, 2, "--plot and --day go together"},
		{[]string{"simulate", "--trace", "testdata/two-days.csv", "--plug-from", "7am"}, 1, "--plug-from: expected HH:MM"},
		{[]string{"simulate", "--trace", "testdata/two-days.csv", "--min-current", "20"}, 1, "scenario"},
		{[]string{"simulate", "--trace", "main.go"}, 1, "main.go"},
		{[]string{"simulate", "--trace", "testdata/two-days.csv", "--car", "tesla"}, 1, `--car "tesla"`},
	}
	for _, c := range cases {
		code, _, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, %q; want %d, %q", c.args, code, errOut, c.code, c.err)
		}
	}
}
