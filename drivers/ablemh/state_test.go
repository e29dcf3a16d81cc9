package ablemh

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestStates(t *testing.T) {
	tests := []struct {
		code   uint8
		iec    charger.IECState
		status charger.Status
		name   string
	}{
		{0xA1, charger.IECA, charger.StatusNoVehicle, "A1"},
		{0xB1, charger.IECB, charger.StatusConnected, "B1"},
		{0xB2, charger.IECB, charger.StatusConnected, "B2"},
		{0xC2, charger.IECC, charger.StatusCharging, "C2"},
		{0xC3, charger.IECC, charger.StatusCharging, "C3"},
		{0xC4, charger.IECC, charger.StatusCharging, "C4"},
		{0xE0, charger.IECUnknown, charger.StatusUnavailable, "E0"},
		{0xE3, charger.IECUnknown, charger.StatusUnavailable, "E3"},
		{0xF1, charger.IECF, charger.StatusError, "F1"},
		{0xF4, charger.IECF, charger.StatusError, "F4"},
		{0xFB, charger.IECF, charger.StatusError, "F11"},
		{0x00, charger.IECUnknown, charger.StatusUnknown, "0x00"},
		{0x5A, charger.IECUnknown, charger.StatusUnknown, "0x5A"},
	}
	for _, tc := range tests {
		if iec, st, name := stateOf(tc.code); iec != tc.iec || st != tc.status || name != tc.name {
			t.Errorf("%#x → %q %q %q, want %q %q %q", tc.code, iec, st, name, tc.iec, tc.status, tc.name)
		}
	}
}

func TestUnits(t *testing.T) {
	for amps, want := range map[float64]uint16{6: 0x64, 10: 0xA6, 16: 0x10A, 32: 533, 0: noCurrent, 6.05: 100, 6.06: 101} {
		if got := units(amps); got != want {
			t.Errorf("units(%v) = %#x, want %#x", amps, got, want)
		}
	}
	for u, want := range map[uint16]float64{0x64: 6, 0xA6: 9.96, noCurrent: 0, 0x10: 0, 0x10B: 16.02} {
		if got := ampsOf(u); got != want {
			t.Errorf("ampsOf(%#x) = %v, want %v", u, got, want)
		}
	}
}

func TestReportDecoding(t *testing.T) {
	meter := &identity{flags: flagMeter, flagsOK: true}
	r := report{code: 0xC4, connected: true, duty: 0x10B, ict: [3]uint16{160, 5, 0}}
	st := r.state(meter, sysUpstreamLost, true)
	if st.ErrorCode != "C4" || *st.CurrentLimit != 16.02 || *st.Phases != 1 || *st.Power != 3795 {
		t.Fatalf("C4: %+v", st)
	}
	// Before the identity: 0x03E8 means unknown, not 0 A.
	r = report{code: 0xA1, duty: 0x64, ict: [3]uint16{noCurrent, noCurrent, noCurrent}}
	if st := r.state(&identity{}, 0, false); st.Currents != nil || st.Power != nil || st.Firmware != "" {
		t.Fatalf("no identity yet: %+v", st)
	}
	if st := r.state(meter, 0, false); len(st.Currents) != 3 || *st.Power != 0 {
		t.Fatalf("meter, state A: %+v", st)
	}
	r = report{code: 0xF4, duty: noCurrent, ict: [3]uint16{0xFFFF, 0, 0}}
	if st := r.state(meter, sysUpstreamLost, true); st.Currents != nil || *st.Enabled || st.ErrorText != "upstream communication timeout" {
		t.Fatalf("F4: %+v", st)
	}
	r = report{code: 0xF2, duty: 0x64}
	if st := r.state(meter, sysUpstreamLost, true); st.ErrorText != "internal error; upstream communication lost" {
		t.Fatalf("F2 with upstream lost: %+v", st)
	}
	r = report{code: 0xE0, duty: 0x64}
	if st := r.state(meter, 0, false); st.Status != charger.StatusNoVehicle || *st.Enabled || st.ErrorCode != "E0" {
		t.Fatalf("E0 unplugged: %+v", st)
	}
	if _, err := decodeReport([]uint16{0x14A1, 0, 0, 0, 0}); err == nil {
		t.Fatal("report of another register accepted")
	}
	var id identity
	if err := id.putSerial([]uint16{0x5000, 0x3257, 0x3232, 0x7879, 0x3031, 0x3233, 0x3435, 0x2020}); err != nil || id.serial != "2W22xy012345" {
		t.Fatalf("serial %q %v", id.serial, err)
	}
}
