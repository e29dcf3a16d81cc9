package vestel

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// statusBlock builds the two status reads with every register 0 except
// those set.
func statusBlock(set func(r []uint16, sess []uint16)) *modbusx.Block {
	r, sess := make([]uint16, statusEnd-regCPState), make([]uint16, 2)
	set(r, sess)
	b := modbusx.NewBlock()
	b.Put(modbusx.Input, regCPState, r)
	b.Put(modbusx.Input, regSessionWh, sess)
	return b
}

func TestStates(t *testing.T) {
	tests := []struct {
		cp, charging, cable uint16
		iec                 charger.IECState
		status              charger.Status
	}{
		{0, 0, 0, charger.IECA, charger.StatusNoVehicle},
		{1, 0, 2, charger.IECB, charger.StatusConnected},
		{2, 1, 3, charger.IECC, charger.StatusCharging},
		{3, 0, 3, charger.IECB, charger.StatusPaused},
		{4, 0, 3, charger.IECB, charger.StatusConnected},
		{5, 0, 3, charger.IECB, charger.StatusComplete},
		{6, 0, 1, charger.IECA, charger.StatusUnavailable},
		{7, 0, 0, charger.IECA, charger.StatusUnavailable},
		{8, 0, 3, charger.IECF, charger.StatusError},
		{9, 0, 3, charger.IECB, charger.StatusConnected}, // unknown state: from the pilot
		{0xffff, 0xffff, 0xffff, charger.IECUnknown, charger.StatusUnknown},
		{2, 1, 4, charger.IECUnknown, charger.StatusCharging}, // cable out of range
	}
	for _, tc := range tests {
		st := decodeStatus(statusBlock(func(r, _ []uint16) {
			r[0], r[1], r[regCable-regCPState] = tc.cp, tc.charging, tc.cable
		})).state()
		if st.IEC != tc.iec || st.Status != tc.status {
			t.Errorf("state %d/%d/%d → %q %q, want %q %q", tc.cp, tc.charging, tc.cable, st.IEC, st.Status, tc.iec, tc.status)
		}
		if (tc.cp > 8) != (st.ErrorCode == "state") {
			t.Errorf("state %d: error code %q", tc.cp, st.ErrorCode)
		}
	}
}

func TestBadRegisters(t *testing.T) {
	// All ones (unavailable) and implausible values are dropped, not shown.
	st := decodeStatus(statusBlock(func(r, sess []uint16) {
		for i := range r {
			r[i] = 0xffff
		}
		sess[0], sess[1] = 0xffff, 0xffff
	})).state()
	if st.Power != nil || st.Currents != nil || st.Voltages != nil || st.EnergyTotal != nil || st.SessionEnergy != nil {
		t.Fatalf("all-ones registers published: %+v", st)
	}
	st = decodeStatus(statusBlock(func(r, _ []uint16) {
		r[regCurrentL1-regCPState+2] = 65000 // 65 A on L2 is fine
		r[regVoltageL1-regCPState+4] = 900   // 900 V on L3 is not
		r[regPower-regCPState+1] = 0xfff0    // 65 kW is not
		r[regFault-regCPState+1] = 4
	})).state()
	if len(st.Currents) != 3 || st.Currents[1] != 65 || st.Voltages != nil || st.Power != nil {
		t.Fatalf("plausibility: currents %v voltages %v power %v", st.Currents, st.Voltages, st.Power)
	}
	if st.ErrorCode != "fault 4" {
		t.Fatalf("fault code: %q", st.ErrorCode)
	}
	// Wrong word counts: a block that holds less than the plan asked for
	// leaves those fields unset instead of panicking.
	b := modbusx.NewBlock()
	b.Put(modbusx.Input, regCPState, []uint16{2, 1, 1, 0, 3})
	st = decodeStatus(b).state()
	if st.Status != charger.StatusCharging || st.IEC != charger.IECC || st.Power != nil || st.Currents != nil {
		t.Fatalf("short block: %+v", st)
	}
	if st := decodeStatus(modbusx.NewBlock()).state(); st.Status != charger.StatusUnknown || st.ErrorCode != "state" {
		t.Fatalf("empty block: %+v", st)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in   []uint16
		want string
	}{
		{encodeChars("EVC04", 5), "EVC04"},
		{encodeChars("", 5), ""},
		{[]uint16{'A', 0x4142, 'C'}, "A?C"}, // two characters in one register: not SPEC
		{[]uint16{'A', 7, 'C'}, "A?C"},
		{[]uint16{' ', 'x', ' ', 0, 'y'}, "x"},
	}
	for _, tc := range tests {
		if got := charString(tc.in); got != tc.want {
			t.Errorf("%v → %q, want %q", tc.in, got, tc.want)
		}
	}
	var id charger.Identity
	decodeIdentity(modbusx.NewBlock(), &id)
	if id != (charger.Identity{}) {
		t.Fatalf("identity from nothing: %+v", id)
	}
}

// BenchmarkPoll polls a simulated EVC04 over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
