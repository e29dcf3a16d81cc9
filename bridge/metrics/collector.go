package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbridge/evbridge/bridge"
	"github.com/evbridge/evbridge/bridge/charger"
)

// Source is what the scrape-time collector reads; *bridge.Bridge is one.
type Source interface {
	Chargers() []bridge.ChargerView
	Connected() bool
}

// modelCollector turns the bridge's model into metrics at scrape time, so
// a charger added or removed at runtime appears or disappears with it.
type modelCollector struct {
	src Source

	connected, available, status, enabled, power, limit, current, voltage,
	session, total, phases, linkProblem, latency, rssi, soc *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

func newModelCollector(src Source) *modelCollector {
	ch := []string{"charger"}
	return &modelCollector{
		src:         src,
		connected:   desc("mqtt_connected", "1 while evbridge is connected to its MQTT broker."),
		available:   desc("charger_available", "1 while the charger answers its polls.", ch...),
		status:      desc("charger_status", "The charger's status: 1 for the present one, 0 for the others.", "charger", "status"),
		enabled:     desc("charger_enabled", "1 while the charger lets the car charge.", ch...),
		power:       desc("charger_power_watts", "Charging power, W.", ch...),
		limit:       desc("charger_current_limit_amperes", "Current offered to the car, A.", ch...),
		current:     desc("charger_current_amperes", "Current per phase, A.", "charger", "phase"),
		voltage:     desc("charger_voltage_volts", "Voltage per phase, V.", "charger", "phase"),
		session:     desc("charger_session_energy_kilowatt_hours", "Energy of the present charging session, kWh.", ch...),
		total:       desc("charger_energy_kilowatt_hours_total", "Lifetime energy delivered by the charger, kWh.", ch...),
		phases:      desc("charger_phases", "Phases in use or selected.", ch...),
		linkProblem: desc("charger_link_problem", "1 while polls fail or the Wi-Fi signal is weak.", ch...),
		latency:     desc("charger_last_poll_latency_seconds", "Duration of the last successful poll, s.", ch...),
		rssi:        desc("charger_rssi_dbm", "Wi-Fi signal strength, dBm.", ch...),
		soc:         desc("charger_vehicle_soc_percent", "The car's state of charge, %, where the charger knows it.", ch...),
	}
}

func (c *modelCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *modelCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.connected, b2f(c.src.Connected()))
	for _, v := range c.src.Chargers() {
		id, st := v.ID, v.State
		gauge(c.available, b2f(v.Available), id)
		if !v.Polled {
			continue
		}
		for _, s := range charger.Statuses {
			gauge(c.status, b2f(st.Status == s), id, string(s))
		}
		gauge(c.linkProblem, b2f(st.LinkProblem), id)
		gauge(c.latency, st.PollLatency/1000, id)
		if st.Enabled != nil {
			gauge(c.enabled, b2f(*st.Enabled), id)
		}
		optional := []struct {
			d *prometheus.Desc
			v *float64
		}{{c.power, st.Power}, {c.limit, st.CurrentLimit}, {c.session, st.SessionEnergy}, {c.rssi, st.RSSI},
			{c.soc, st.VehicleSoC}}
		for _, o := range optional {
			if o.v != nil {
				gauge(o.d, *o.v, id)
			}
		}
		if st.EnergyTotal != nil {
			ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, *st.EnergyTotal, id)
		}
		if st.Phases != nil {
			gauge(c.phases, float64(*st.Phases), id)
		}
		for i, a := range st.Currents {
			gauge(c.current, a, id, "L"+strconv.Itoa(i+1))
		}
		for i, u := range st.Voltages {
			gauge(c.voltage, u, id, "L"+strconv.Itoa(i+1))
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
