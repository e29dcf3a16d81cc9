package ocpp

import (
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func sim201Config(id string) SimConfig {
	cfg := simConfig(id)
	cfg.Protocol = ProtoOCPP201
	cfg.Vendor, cfg.Model, cfg.Serial, cfg.Firmware = "Vendor201", "Station", "S201", "2.0.1-fw"
	return cfg
}

func TestOCPP201BootMeterAndCurrent(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CS201", nil)
	s := runSim(t, cs.URL(), sim201Config("CS201"))

	st := pollUntil(t, d, "charging with identity", func(st charger.State) bool {
		return charging(st) && st.Power != nil && *st.Power > 10000 && st.Identity.Brand != ""
	})
	if st.Identity != (charger.Identity{Brand: "Vendor201", Model: "Station", Serial: "S201", Firmware: "2.0.1-fw"}) {
		t.Fatalf("identity: %+v", st.Identity)
	}
	if st.IEC != charger.IECC || st.EnergyTotal == nil || *st.EnergyTotal < 1000 || st.SessionEnergy == nil {
		t.Fatalf("state: %s", dump(st))
	}
	if info := cs.Sessions(); len(info) != 1 || info[0].Protocol != ProtoOCPP201 {
		t.Fatalf("sessions: %s", dump(info))
	}
	simUntil(t, s, "the device model variables set", func(sn SimSnapshot) bool {
		return sn.MeterInterval == time.Second && sn.Measurands == measurandSets[0]
	})

	before := s.Snapshot().ProfilesAccepted
	if err := d.SetCurrent(t.Context(), 9.5); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Limit != 9.5 || sn.ProfilesAccepted != before+2 {
		t.Fatalf("after SetCurrent: %s", dump(sn))
	}
	pollUntil(t, d, "the car at 9.5 A", func(st charger.State) bool {
		return len(st.Currents) == 3 && near(st.Currents[1], 9.5)
	})

	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && st.Enabled != nil && !*st.Enabled && *st.Power == 0
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging again at 9.5 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && near(st.Currents[0], 9.5)
	})
	if err := d.SetPhases(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "one phase", func(st charger.State) bool {
		return len(st.Currents) == 3 && near(st.Currents[0], 9.5) && st.Currents[2] == 0
	})

	s.Plug(false)
	st = pollUntil(t, d, "unplugged", func(st charger.State) bool { return st.Status == charger.StatusNoVehicle })
	if st.SessionEnergy == nil || *st.SessionEnergy <= 0 || *st.Power != 0 {
		t.Fatalf("after the session: %s", dump(st))
	}
}

func TestOCPP201RemoteStartAndReset(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CS201", nil)
	cfg := sim201Config("CS201")
	cfg.NoAutoStart = true
	s := runSim(t, cs.URL(), cfg)
	pollUntil(t, d, "connected without transaction", func(st charger.State) bool {
		return st.Status == charger.StatusConnected
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging after RequestStartTransaction", charging)
	if err := d.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	simUntil(t, s, "rebooted", func(sn SimSnapshot) bool { return sn.Boots == 2 && sn.Registered })
}

func TestStatus201(t *testing.T) {
	tests := []struct{ conn, charging, want string }{
		{"Available", "", "Available"},
		{"Occupied", "", "Preparing"},
		{"Occupied", "EVConnected", "Preparing"},
		{"Occupied", "Charging", "Charging"},
		{"Occupied", "SuspendedEVSE", "SuspendedEVSE"},
		{"Faulted", "Charging", "Faulted"},
		{"", "SuspendedEV", "SuspendedEV"},
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := status201(tc.conn, tc.charging); got != tc.want {
			t.Errorf("status201(%q, %q) = %q, want %q", tc.conn, tc.charging, got, tc.want)
		}
	}
}
