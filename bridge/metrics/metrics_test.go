package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/metrics"
	"github.com/evbridge/evbridge/bridge/solar"
)

type source struct {
	chargers  []bridge.ChargerView
	connected bool
}

func (s source) Chargers() []bridge.ChargerView { return s.chargers }
func (s source) Connected() bool                { return s.connected }

func gather(t *testing.T, m *metrics.Metrics) map[string][]*dto.Metric {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, f := range families {
		out[f.GetName()] = f.GetMetric()
	}
	return out
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// value finds the sample of name with exactly these labels.
func value(t *testing.T, all map[string][]*dto.Metric, name, lbls string) float64 {
	t.Helper()
	for _, m := range all[name] {
		if labels(m) == lbls {
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s{%s}", name, lbls)
	return 0
}

func TestObserver(t *testing.T) {
	m := metrics.New("1.2.3")
	m.ObservePoll("garage", 30*time.Millisecond, nil)
	m.ObservePoll("garage", 2*time.Second, errors.New("timeout"))
	m.ObservePoll("carport", 10*time.Millisecond, nil)
	m.ObserveDecision("garage", 10, string(solar.CodeCharging))
	m.ObserveDecision("garage", 11, string(solar.CodeCharging))
	m.ObserveDecision("garage", 0, string(solar.CodeWaiting))
	all := gather(t, m)
	if v := value(t, all, "evbridge_charger_poll_duration_seconds", "charger=garage"); v != 2 {
		t.Errorf("polls observed: %v", v)
	}
	if v := value(t, all, "evbridge_charger_poll_errors_total", "charger=garage"); v != 1 {
		t.Errorf("poll errors: %v", v)
	}
	if v := value(t, all, "evbridge_charger_poll_errors_total", "charger=carport"); v != 0 {
		t.Errorf("poll errors of a healthy charger: %v", v)
	}
	if v := value(t, all, "evbridge_controller_decisions_total", "charger=garage,reason=charging"); v != 2 {
		t.Errorf("charging decisions: %v", v)
	}
	if v := value(t, all, "evbridge_controller_decisions_total", "charger=garage,reason=waiting"); v != 1 {
		t.Errorf("waiting decisions: %v", v)
	}
	if n := len(all["evbridge_controller_decisions_total"]); n != 2 {
		t.Errorf("%d decision series; the numbers in reasons must not make new ones", n)
	}
	if v := value(t, all, "evbridge_controller_current_amperes", "charger=garage"); v != 0 {
		t.Errorf("last decided current: %v", v)
	}
	if v := value(t, all, "evbridge_build_info", "version=1.2.3"); v != 1 {
		t.Errorf("build info: %v", v)
	}
	if _, ok := all["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	m.ObserveRemoved("garage")
	all = gather(t, m)
	for _, name := range []string{"evbridge_charger_poll_duration_seconds", "evbridge_charger_poll_errors_total",
		"evbridge_controller_decisions_total", "evbridge_controller_current_amperes"} {
		for _, series := range all[name] {
			if strings.Contains(labels(series), "charger=garage") {
				t.Errorf("%s{%s} outlived the removed charger", name, labels(series))
			}
		}
	}
	if v := value(t, all, "evbridge_charger_poll_errors_total", "charger=carport"); v != 0 {
		t.Errorf("another charger's series went with it: %v", v)
	}
}

func TestModelCollector(t *testing.T) {
	st := bridge.PublishedState{State: charger.State{Status: charger.StatusCharging, Enabled: charger.Ptr(true),
		CurrentLimit: charger.Ptr(10.0), Power: charger.Ptr(6900.0), Currents: []float64{10, 10.1, 9.9},
		Voltages: []float64{230, 231, 229}, Phases: charger.Ptr(3), SessionEnergy: charger.Ptr(3.25), EnergyTotal: charger.Ptr(1234.5),
		RSSI: charger.Ptr(-61.0), VehicleSoC: charger.Ptr(55.0)}, PollLatency: 42, LinkProblem: false}
	src := source{connected: true, chargers: []bridge.ChargerView{
		{ID: "garage", Available: true, Polled: true, State: st},
		{ID: "never", Available: false, Polled: false},
	}}
	m := metrics.New("test")
	if err := m.Watch(src); err != nil {
		t.Fatal(err)
	}
	all := gather(t, m)
	checks := []struct {
		name, labels string
		want         float64
	}{
		{"evbridge_mqtt_connected", "", 1},
		{"evbridge_charger_available", "charger=garage", 1},
		{"evbridge_charger_available", "charger=never", 0},
		{"evbridge_charger_status", "charger=garage,status=charging", 1},
		{"evbridge_charger_status", "charger=garage,status=paused", 0},
		{"evbridge_charger_enabled", "charger=garage", 1},
		{"evbridge_charger_power_watts", "charger=garage", 6900},
		{"evbridge_charger_current_limit_amperes", "charger=garage", 10},
		{"evbridge_charger_current_amperes", "charger=garage,phase=L2", 10.1},
		{"evbridge_charger_voltage_volts", "charger=garage,phase=L3", 229},
		{"evbridge_charger_phases", "charger=garage", 3},
		{"evbridge_charger_session_energy_kilowatt_hours", "charger=garage", 3.25},
		{"evbridge_charger_energy_kilowatt_hours_total", "charger=garage", 1234.5},
		{"evbridge_charger_last_poll_latency_seconds", "charger=garage", 0.042},
		{"evbridge_charger_link_problem", "charger=garage", 0},
		{"evbridge_charger_rssi_dbm", "charger=garage", -61},
		{"evbridge_charger_vehicle_soc_percent", "charger=garage", 55},
	}
	for _, c := range checks {
		if got := value(t, all, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, m := range all["evbridge_charger_power_watts"] {
		if labels(m) == "charger=never" {
			t.Error("a charger never polled reports power")
		}
	}
}
