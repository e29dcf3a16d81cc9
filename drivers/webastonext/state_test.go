package webastonext

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// statusBlock builds the two status reads with every register 0 except
// those set.
func statusBlock(set func(r []uint16, sess []uint16)) *modbusx.Block {
	r, sess := make([]uint16, statusEnd-regCPState), make([]uint16, 1)
	set(r, sess)
	b := modbusx.NewBlock()
	b.Put(modbusx.Holding, regCPState, r)
	b.Put(modbusx.Holding, regSessionWh, sess)
	return b
}

func TestStates(t *testing.T) {
	tests := []struct {
		cp, charging, cable uint16
		iec                 charger.IECState
		status              charger.Status
		code                string
	}{
		{0, 0, 0, charger.IECA, charger.StatusNoVehicle, ""},
		{1, 0, 2, charger.IECB, charger.StatusConnected, ""},
		{3, 1, 3, charger.IECC, charger.StatusCharging, ""},
		{4, 0, 3, charger.IECB, charger.StatusPaused, ""},
		{7, 0, 3, charger.IECF, charger.StatusError, "charging"},
		{8, 0, 1, charger.IECA, charger.StatusUnavailable, ""},
		{2, 0, 3, charger.IECB, charger.StatusConnected, "state"}, // undocumented: from the pilot
		{9, 0, 0, charger.IECA, charger.StatusNoVehicle, "state"},
		{0xffff, 0xffff, 0xffff, charger.IECUnknown, charger.StatusUnknown, "state"},
	}
	for _, tc := range tests {
		st := decodeStatus(statusBlock(func(r, _ []uint16) {
			r[0], r[1], r[2], r[regCable-regCPState] = tc.cp, tc.charging, 1, tc.cable
		})).state()
		if st.IEC != tc.iec || st.Status != tc.status || st.ErrorCode != tc.code {
			t.Errorf("state %d/%d/%d → %q %q %q, want %q %q %q", tc.cp, tc.charging, tc.cable,
				st.IEC, st.Status, st.ErrorCode, tc.iec, tc.status, tc.code)
		}
	}
	st := decodeStatus(statusBlock(func(r, _ []uint16) { r[0], r[2], r[4] = 3, 2, 0 })).state()
	if st.Status != charger.StatusError || st.ErrorCode != "evse" {
		t.Errorf("EVSE state error: %q %q", st.Status, st.ErrorCode)
	}
}

func TestBadRegisters(t *testing.T) {
	st := decodeStatus(statusBlock(func(r, sess []uint16) {
		for i := range r {
			r[i] = 0xffff
		}
		sess[0] = 0xffff
	})).state()
	if st.Power != nil || st.Currents != nil || st.EnergyTotal != nil || st.SessionEnergy != nil || st.Phases != nil {
		t.Fatalf("all-ones registers published: %+v", st)
	}
	st = decodeStatus(statusBlock(func(r, _ []uint16) {
		r[1] = 1                              // charging
		r[regCurrentL1-regCPState+2] = 0xfffe // 65.5 A on L2: fine
		r[regCurrentL1-regCPState+4] = 0      // L3 idle
		r[regPower-regCPState] = 1            // 65 kW and more: not
		r[regMeter-regCPState+1] = 42
	})).state()
	if len(st.Currents) != 3 || st.Currents[1] != 65.534 || st.Power != nil || *st.EnergyTotal != 0.042 || *st.Phases != 1 {
		t.Fatalf("plausibility: currents %v power %v energy %v phases %v", st.Currents, st.Power, *st.EnergyTotal, *st.Phases)
	}
	// Wrong word counts: a block holding less than asked leaves fields
	// unset instead of panicking.
	b := modbusx.NewBlock()
	b.Put(modbusx.Holding, regCPState, []uint16{3, 1, 1, 0, 3})
	st = decodeStatus(b).state()
	if st.Status != charger.StatusCharging || st.IEC != charger.IECC || st.Power != nil || st.Currents != nil {
		t.Fatalf("short block: %+v", st)
	}
	if st := decodeStatus(modbusx.NewBlock()).state(); st.Status != charger.StatusUnknown || st.ErrorCode != "state" {
		t.Fatalf("empty block: %+v", st)
	}
}

// BenchmarkPoll polls a simulated Next over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
