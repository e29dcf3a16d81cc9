package ocpp

import (
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestServerConfigValidate(t *testing.T) {
	if err := (&ServerConfig{}).Validate(); err == nil {
		t.Fatal("empty config accepted")
	}
	def := DefaultServerConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*ServerConfig)
		want   string
	}{
		{"listen", func(c *ServerConfig) { c.Listen = "8887" }, "listen"},
		{"prefix", func(c *ServerConfig) { c.PathPrefix = "ocpp/" }, "path_prefix"},
		{"tls half", func(c *ServerConfig) { c.TLS.CertFile = "c.pem" }, "tls"},
		{"protocol", func(c *ServerConfig) { c.Protocols = []string{"ocpp1.5"} }, "protocols"},
		{"no protocol", func(c *ServerConfig) { c.Protocols = nil }, "protocols"},
		{"unknown", func(c *ServerConfig) { c.Unknown = "maybe" }, "unknown"},
		{"id", func(c *ServerConfig) { c.ChargePoints = []KnownChargePoint{{ID: "a/b"}} }, "charge_points[0].id"},
		{"dup", func(c *ServerConfig) { c.ChargePoints = []KnownChargePoint{{ID: "a"}, {ID: "a"}} }, "twice"},
		{"tag", func(c *ServerConfig) { c.IDTags = []string{strings.Repeat("t", 21)} }, "id_tags[0]"},
		{"interval", func(c *ServerConfig) { c.MeterInterval = 0 }, "meter_interval"},
		{"frame", func(c *ServerConfig) { c.MaxFrameBytes = 10 }, "max_frame_bytes"},
	}
	for _, tc := range tests {
		c := DefaultServerConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.want)
		}
	}
	for _, o := range []Options{{Connector: 0}, {Connector: 65}, {Connector: 1, Password: "a\nb"}} {
		if err := o.Validate(); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := NewWithRegistry(NewRegistry(), charger.Settings{Address: "192.0.2.1:8887"}, nil, nil); err == nil {
		t.Error("a host:port address was taken as a charge point identity")
	}
}

func TestApplySamples(t *testing.T) {
	var m meterState
	now := time.Now()
	used := m.applySamples([]sample{
		{value: "12.5", unit: "kWh"}, // default measurand: the import register
		{value: "7.2", measurand: "Power.Active.Import", unit: "kW"},
		{value: "10", measurand: "Current.Import", phase: "L1"},
		{value: "11", measurand: "Current.Import", phase: "L2"},
		{value: "230.5", measurand: "Voltage", phase: "L3-N"},
		{value: "400", measurand: "Voltage", phase: "L1-L2"},
		{value: "16", measurand: "Current.Offered"},
		{value: "80", measurand: "SoC", location: "EV"},
		{value: "300.15", measurand: "Temperature", unit: "K"},
		{value: "999", measurand: "Power.Active.Import", location: "EV"},
		{value: "1", measurand: "Energy.Active.Import.Register", format: "SignedData"},
		{value: "x", measurand: "Current.Import", phase: "L3"},
		{value: "5", measurand: "Frequency"},
	}, now)
	if used != 8 {
		t.Errorf("used %d samples, want 8", used)
	}
	if *m.energyWh != 12500 || *m.power != 7200 || *m.currents[0] != 10 || *m.currents[1] != 11 ||
		m.currents[2] != nil || *m.voltages[2] != 230.5 || m.voltages[0] != nil || *m.offered != 16 ||
		*m.soc != 80 || *m.temp < 26.9 || *m.temp > 27.1 {
		t.Fatalf("meter %+v", dump(m))
	}
	// Per-phase power adds up; the register never goes back; an
	// unphased current is L1 on single-phase charge points.
	var p meterState
	p.applySamples([]sample{{value: "1000", measurand: "Power.Active.Import", phase: "L1"},
		{value: "2000", measurand: "Power.Active.Import", phase: "L2"}, {value: "6", measurand: "Current.Import"}}, now)
	if *p.power != 3000 || *p.currents[0] != 6 {
		t.Fatalf("per-phase power %v, unphased current %v", *p.power, p.currents[0])
	}
	m.applySamples([]sample{{value: "100", unit: "Wh"}}, now)
	if *m.energyWh != 12500 {
		t.Fatalf("register went back to %v", *m.energyWh)
	}
	// 2.0.1: numbers with a power-of-ten multiplier.
	var q meterState
	q.applySamples([]sample{{number: 11, isNumber: true, measurand: "Power.Active.Import", unit: "W", multiplier: 3},
		{number: 0, isNumber: true, measurand: "Current.Import", phase: "L1"}}, now)
	if *q.power != 11000 || *q.currents[0] != 0 {
		t.Fatalf("2.0.1 samples: %s", dump(q))
	}
}

func TestStateMapping(t *testing.T) {
	now := time.Now()
	tests := []struct {
		status  string
		iec     charger.IECState
		user    charger.Status
		enabled *bool
	}{
		{"Available", charger.IECA, charger.StatusNoVehicle, nil},
		{"Preparing", charger.IECB, charger.StatusConnected, nil},
		{"Charging", charger.IECC, charger.StatusCharging, ptr(true)},
		{"SuspendedEVSE", charger.IECB, charger.StatusPaused, ptr(false)},
		{"SuspendedEV", charger.IECB, charger.StatusPaused, ptr(true)},
		{"Finishing", charger.IECB, charger.StatusComplete, nil},
		{"Reserved", charger.IECA, charger.StatusNoVehicle, nil},
		{"Unavailable", charger.IECA, charger.StatusUnavailable, nil},
		{"Faulted", charger.IECF, charger.StatusError, nil},
		{"Bogus", charger.IECUnknown, charger.StatusUnknown, nil},
	}
	for _, tc := range tests {
		s := newSession("x")
		c := s.connector(1)
		c.status, c.errorCode, c.errorInfo = tc.status, "GroundFailure", "RCD tripped"
		st := s.stateLocked(1, time.Minute, now)
		if st.IEC != tc.iec || st.Status != tc.user || (st.Enabled == nil) != (tc.enabled == nil) ||
			st.Enabled != nil && *st.Enabled != *tc.enabled || st.ErrorCode != "GroundFailure" || st.ErrorText != "RCD tripped" {
			t.Errorf("%s: %s", tc.status, dump(st))
		}
	}
	// The station (connector 0) faulted overrides a connector; a single
	// connector without its own meter shows the station's.
	s := newSession("x")
	s.connector(1).status = "Charging"
	s.station.status, s.station.errorCode = "Faulted", "PowerMeterFailure"
	s.station.meter.applySamples([]sample{{value: "5", measurand: "Power.Active.Import"}}, now)
	st := s.stateLocked(1, time.Minute, now)
	if st.Status != charger.StatusError || st.ErrorCode != "PowerMeterFailure" || st.Power == nil || *st.Power != 5 {
		t.Fatalf("station override: %s", dump(st))
	}
	s.station.status = "Available"
	if st := s.stateLocked(1, time.Minute, now); st.Status != charger.StatusCharging || *st.Power != 5 {
		t.Fatalf("station meter: %s", dump(st))
	}
	// Stale meter values are no present power.
	if st := s.stateLocked(1, time.Minute, now.Add(2*time.Minute)); st.Power != nil {
		t.Fatalf("stale power shown: %s", dump(st))
	}
}

func TestIdentityAndNegotiation(t *testing.T) {
	for _, id := range []string{"CP1", "WB-123.a_b", strings.Repeat("x", 48), "a~b"} {
		if err := checkIdentity(id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	for _, id := range []string{"", "a/b", "a b", "a:b", "ä", strings.Repeat("x", 49), "a%20"} {
		if checkIdentity(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
	tr := newTransport(ServerConfig{Protocols: []string{ProtoOCPP201, ProtoOCPP16}}, nil)
	for _, tc := range []struct {
		offered []string
		want    string
		echo    bool
	}{
		{[]string{ProtoOCPP16, ProtoOCPP201}, ProtoOCPP201, true},
		{[]string{ProtoOCPP16}, ProtoOCPP16, true},
		{nil, ProtoOCPP201, false},
		{[]string{"ocpp2.0"}, "", false},
	} {
		if p, e := tr.negotiate(tc.offered); p != tc.want || e != tc.echo {
			t.Errorf("negotiate(%v) = %q %v, want %q %v", tc.offered, p, e, tc.want, tc.echo)
		}
	}
}
