package kebamodbus

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"

	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestIECStatus(t *testing.T) {
	tests := []struct {
		state, cable uint32
		cableKnown   bool
		iec          charger.IECState
		status       charger.Status
	}{
		{stateNotReady, 0, true, charger.IECA, charger.StatusNoVehicle},
		{stateNotReady, 3, true, charger.IECA, charger.StatusNoVehicle},
		{stateNotReady, 7, true, charger.IECB, charger.StatusPaused},
		{stateReady, 7, true, charger.IECB, charger.StatusConnected},
		{stateReady, 5, false, charger.IECB, charger.StatusConnected},
		{stateCharging, 7, true, charger.IECC, charger.StatusCharging},
		{stateCharging, 0, false, charger.IECC, charger.StatusCharging},
		{stateInterrupted, 7, true, charger.IECB, charger.StatusPaused},
		{stateError, 7, true, charger.IECF, charger.StatusError},
		{stateStartup, 7, true, charger.IECUnknown, charger.StatusUnknown},
		{stateNotReady, 0, false, charger.IECUnknown, charger.StatusUnknown},
		{42, 7, true, charger.IECUnknown, charger.StatusUnknown},
	}
	for _, tc := range tests {
		iec, st := iecStatus(tc.state, tc.cable, tc.cableKnown)
		if iec != tc.iec || st != tc.status {
			t.Errorf("state %d cable %d/%v → %q %q, want %q %q", tc.state, tc.cable, tc.cableKnown, iec, st, tc.iec, tc.status)
		}
	}
}

func TestStateFromRegisters(t *testing.T) {
	if st := (reading{vals: map[uint16]uint32{}}).state(); st.Status != "" || st.Power != nil || st.Identity.Brand != "" {
		t.Fatalf("nothing read: %+v", st)
	}
	// Unavailable (0xFFFFFFFF) and out-of-range values set nothing.
	r := reading{kWh: 0.001, vals: map[uint16]uint32{
		regState: 42, regCable: 7, regPower: 0xffffffff, regEnergy: 0xffffffff,
		regCurrentL1: 1000, regCurrentL1 + 2: 0xffffffff, regCurrentL1 + 4: 1000,
		regPhaseState: 7, regProduct: 304111, regFirmware: 0,
	}}
	st := r.state()
	if st.Status != charger.StatusUnknown || st.ErrorCode != "state" || st.Power != nil || st.EnergyTotal != nil ||
		st.Currents != nil || st.Phases != nil || st.Firmware != "" {
		t.Fatalf("bad registers: %+v", st)
	}
	// KEBA §3.9's example reads 0x030A0D00 as 3.10.14, though 0x0D is 13.
	if got := firmware(0x030A0D00, false); got != "3.10.13" {
		t.Errorf("P30 firmware = %q", got)
	}
	if got := model(123); got != "KeContact (123)" {
		t.Errorf("unknown product = %q", got)
	}
}

// BenchmarkPoll polls a simulated station over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
