package ocpp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestBootIdentityAndMeterValues(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	cfg := simConfig("CP1")
	cfg.Vendor, cfg.Model, cfg.Serial, cfg.Firmware = "Wallbox", "PulsarPlus", "WB123", "5.17.0"
	s := runSim(t, cs.URL(), cfg)

	st := pollUntil(t, d, "charging with identity", func(st charger.State) bool {
		return charging(st) && st.Identity.Brand != "" && st.Power != nil && *st.Power > 10000
	})
	want := charger.Identity{Brand: "Wallbox", Model: "PulsarPlus", Serial: "WB123", Firmware: "5.17.0"}
	if st.Identity != want {
		t.Fatalf("identity %+v, want %+v", st.Identity, want)
	}
	if st.IEC != charger.IECC || st.EnergyTotal == nil || *st.EnergyTotal < 1000 || st.SessionEnergy == nil ||
		len(st.Voltages) != 3 || st.Voltages[0] != 230 || st.Phases == nil || *st.Phases != 3 {
		t.Fatalf("state: %s", dump(st))
	}
	sn := simUntil(t, s, "the central system's meter settings", func(sn SimSnapshot) bool {
		return sn.MeterInterval == time.Second && sn.Measurands == measurandSets[0]
	})
	if sn.Boots != 1 || !sn.Registered {
		t.Fatalf("sim: %s", dump(sn))
	}
	// Periodic meter values follow the new interval (nobody polls here,
	// so nothing is triggered).
	simUntil(t, s, "three periodic meter values", func(n SimSnapshot) bool { return n.MeterMessages >= sn.MeterMessages+3 })
	// Session energy grows with the register.
	first := *st.SessionEnergy
	pollUntil(t, d, "session energy to grow", func(st charger.State) bool {
		return st.SessionEnergy != nil && *st.SessionEnergy > first && *st.EnergyTotal > 1000
	})
	info := cs.Sessions()
	if len(info) != 1 || info[0].Protocol != ProtoOCPP16 || info[0].Registration != "Accepted" {
		t.Fatalf("sessions: %s", dump(info))
	}
}

func TestSetCurrentCarFollows(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging at 16 A", charging)
	before := s.Snapshot().ProfilesAccepted

	if err := d.SetCurrent(t.Context(), 10.75); err != nil {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	if sn.Limit != 10.7 || sn.ProfilesAccepted != before+2 {
		t.Fatalf("after SetCurrent(10.75): limit %v (want 10.7), profiles accepted %d (want %d: TxDefault and Tx)",
			sn.Limit, sn.ProfilesAccepted, before+2)
	}
	st := pollUntil(t, d, "the car to draw 10.7 A", func(st charger.State) bool {
		return len(st.Currents) == 3 && near(st.Currents[0], 10.7) && near(st.Currents[2], 10.7)
	})
	if st.CurrentLimit == nil || *st.CurrentLimit != 10.7 || st.Status != charger.StatusCharging {
		t.Fatalf("state: %s", dump(st))
	}
	for _, bad := range []float64{5.9, 16.1} {
		if err := d.SetCurrent(t.Context(), bad); err == nil {
			t.Fatalf("SetCurrent(%v) accepted, want refused (range 6..16)", bad)
		}
	}
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging", charging)
	if err := d.SetCurrent(t.Context(), 12); err != nil {
		t.Fatal(err)
	}
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Limit != 0 || !sn.TxActive {
		t.Fatalf("disabled: sim limit %v tx %v; want a 0 A profile with the transaction kept", sn.Limit, sn.TxActive)
	}
	st := pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && st.Power != nil && *st.Power == 0
	})
	if st.Enabled == nil || *st.Enabled || *st.CurrentLimit != 12 {
		t.Fatalf("disabled state: %s", dump(st))
	}
	// A setpoint while disabled is kept, not sent.
	if err := d.SetCurrent(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Limit != 0 {
		t.Fatalf("SetCurrent while disabled reached the charge point: limit %v", sn.Limit)
	}
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	st = pollUntil(t, d, "charging at 8 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && near(st.Currents[0], 8)
	})
	if !*st.Enabled || s.Snapshot().TxID == "" {
		t.Fatalf("enabled state: %s", dump(st))
	}
}

func TestEnableStartsTransaction(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	cfg := simConfig("CP1")
	cfg.NoAutoStart = true
	s := runSim(t, cs.URL(), cfg)
	pollUntil(t, d, "car connected, no transaction", func(st charger.State) bool {
		return st.Status == charger.StatusConnected
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging", charging)
	if sn := s.Snapshot(); !sn.TxActive {
		t.Fatalf("no transaction: %s", dump(sn))
	}
}

func TestSetPhases(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging", charging)
	eventually(t, "capabilities learnt", func() (bool, any) {
		s := reg.session("CP1")
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.caps.known, s.caps
	})
	if err := d.SetPhases(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if sn := s.Snapshot(); sn.Phases != 1 {
		t.Fatalf("sim phases %d, want 1", sn.Phases)
	}
	st := pollUntil(t, d, "one phase", func(st charger.State) bool {
		return len(st.Currents) == 3 && st.Currents[0] > 15 && st.Currents[1] == 0 && st.Phases != nil && *st.Phases == 1
	})
	if st.Status != charger.StatusCharging {
		t.Fatalf("state: %s", dump(st))
	}
	if err := d.SetPhases(t.Context(), 2); !errors.Is(err, charger.ErrNotSupported) {
		t.Fatalf("SetPhases(2) = %v, want ErrNotSupported", err)
	}
}

func TestQuirkProfiles(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	tests := []struct {
		id     string
		quirks string
		check  func(t *testing.T, d *Driver, s *ChargePointSim)
	}{
		{"slowmeter", "slow-meter", func(t *testing.T, _ *Driver, s *ChargePointSim) {
			simUntil(t, s, "meter interval 30 s after 1 s was refused", func(sn SimSnapshot) bool {
				return sn.MeterInterval == 30*time.Second
			})
		}},
		{"wallbox", "wallbox", func(t *testing.T, d *Driver, s *ChargePointSim) {
			simUntil(t, s, "measurands without Current.Offered", func(sn SimSnapshot) bool {
				return sn.Measurands == measurandSets[1]
			})
			if err := d.SetPhases(t.Context(), 1); !errors.Is(err, charger.ErrNotSupported) {
				t.Fatalf("SetPhases on a charge point without phase switching = %v, want ErrNotSupported", err)
			}
		}},
		{"connonly", "connector-profiles", func(t *testing.T, d *Driver, s *ChargePointSim) {
			if err := d.SetCurrent(t.Context(), 9); err != nil {
				t.Fatal(err)
			}
			if sn := s.Snapshot(); sn.Limit != 9 || sn.ProfilesRejected != 0 {
				t.Fatalf("per-connector profiles: %s", dump(sn))
			}
		}},
		{"notx", "no-tx-profile", func(t *testing.T, d *Driver, s *ChargePointSim) {
			for _, a := range []float64{9, 10} {
				if err := d.SetCurrent(t.Context(), a); err != nil {
					t.Fatal(err)
				}
			}
			// TxProfile refused once, then only TxDefaultProfile is sent.
			if sn := s.Snapshot(); sn.Limit != 10 || sn.ProfilesRejected != 1 {
				t.Fatalf("no TxProfile: %s", dump(sn))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.quirks, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, reg, tc.id, nil)
			cfg := simConfig(tc.id)
			cfg.Quirks = QuirkProfiles[tc.quirks]
			s := runSim(t, cs.URL(), cfg)
			pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })
			simUntil(t, s, "configured", func(sn SimSnapshot) bool { return sn.Measurands != "Energy.Active.Import.Register,Power.Active.Import" })
			tc.check(t, d, s)
		})
	}
}

func TestReconnectKeepsIdentityAndState(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging", charging)
	if err := d.SetCurrent(t.Context(), 9); err != nil {
		t.Fatal(err)
	}
	s.Drop()
	simUntil(t, s, "reconnected", func(sn SimSnapshot) bool { return sn.Connects == 2 && sn.Connected })
	st := pollUntil(t, d, "charging at 9 A after the reconnect", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && near(st.Currents[0], 9)
	})
	if st.Identity.Brand != "evbridge" || *st.CurrentLimit != 9 {
		t.Fatalf("state after reconnect: %s", dump(st))
	}
	if sn := s.Snapshot(); sn.Boots != 1 {
		t.Fatalf("a reconnect is no reboot: boots %d", sn.Boots)
	}
}

func TestRestartedCentralSystemAsksForBoot(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cs, reg, _ := startCS(t, cfg)
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging", charging)
	if err := d.SetCurrent(t.Context(), 9); err != nil {
		t.Fatal(err)
	}
	at9 := func(st charger.State) bool {
		return st.Status == charger.StatusCharging && len(st.Currents) == 3 && near(st.Currents[0], 9)
	}
	pollUntil(t, d, "charging at 9 A", at9)
	addr := cs.Addr().String()
	cs.Close()
	if _, err := d.Poll(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("poll with the central system gone = %v, want ErrNotConnected", err)
	}
	// evbridge restarts: a new registry, the same address.
	cfg.Listen = addr
	cs2, reg2, _ := startCS(t, cfg)
	d2 := newDriver(t, reg2, "CP1", nil)
	st := pollUntil(t, d2, "identity and the running charge", func(st charger.State) bool {
		return st.Identity.Brand == "evbridge" && at9(st)
	})
	// The restart changed nothing on the charge point.
	if sn := s.Snapshot(); sn.Limit != 9 || sn.ProfilesAccepted != 2 || st.SessionEnergy != nil {
		t.Fatalf("after restart: %s / sim %s", dump(st), dump(s.Snapshot()))
	}
	_ = cs2
}

func TestOfflineWhenGoneAndReset(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "charging", charging)
	if err := d.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	simUntil(t, s, "rebooted", func(sn SimSnapshot) bool { return sn.Boots == 2 && sn.Registered })
	pollUntil(t, d, "charging again", charging)

	other := newDriver(t, reg, "nobody", nil)
	if _, err := other.Poll(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("poll of a charge point never seen = %v, want ErrNotConnected", err)
	}
	if err := other.SetCurrent(t.Context(), 10); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SetCurrent of a charge point never seen = %v, want ErrNotConnected", err)
	}
	noServer := newDriver(t, NewRegistry(), "CP1", nil)
	if _, err := noServer.Poll(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("poll without central system = %v, want ErrNotConnected", err)
	}
}

func TestStopTransactionKeepsSessionEnergy(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	d := newDriver(t, reg, "CP1", nil)
	s := runSim(t, cs.URL(), simConfig("CP1"))
	pollUntil(t, d, "some session energy and the car's SoC", func(st charger.State) bool {
		return charging(st) && st.SessionEnergy != nil && *st.SessionEnergy > 0 &&
			st.VehicleSoC != nil && *st.VehicleSoC > 0 && *st.VehicleSoC <= 100
	})
	s.Plug(false)
	st := pollUntil(t, d, "unplugged", func(st charger.State) bool { return st.Status == charger.StatusNoVehicle })
	if st.VehicleSoC != nil {
		t.Errorf("the car left but its SoC %v stayed", *st.VehicleSoC)
	}
	sn := s.Snapshot()
	if st.SessionEnergy == nil || *st.SessionEnergy <= 0 || *st.SessionEnergy > sn.Reading.SessionWh/1000+0.002 {
		t.Fatalf("finished session energy %v, sim %v Wh", dump(st.SessionEnergy), sn.Reading.SessionWh)
	}
	if st.Power == nil || *st.Power != 0 || st.IEC != charger.IECA {
		t.Fatalf("unplugged state: %s", dump(st))
	}
	_ = context.Background
}
