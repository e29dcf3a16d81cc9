package phoenix

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// inputBlock builds the input read with every register 0 except those
// set.
func inputBlock(set func(r []uint16)) *modbusx.Block {
	r := make([]uint16, inputEndWallbe-regStatus)
	set(r)
	b := modbusx.NewBlock()
	b.Put(modbusx.Input, regStatus, r)
	return b
}

func set32(r []uint16, addr uint16, v int64) { copy(r[addr-regStatus:], low32(v)) }

func TestPilotStates(t *testing.T) {
	tests := []struct {
		reg    uint16
		iec    charger.IECState
		status charger.Status
		code   string
	}{
		{'A', charger.IECA, charger.StatusNoVehicle, ""},
		{'B', charger.IECB, charger.StatusConnected, ""},
		{'C', charger.IECC, charger.StatusCharging, ""},
		{'D', charger.IECD, charger.StatusCharging, ""},
		{'E', charger.IECE, charger.StatusError, "E"},
		{'F', charger.IECF, charger.StatusError, "F"},
		{0x3142, charger.IECB, charger.StatusConnected, ""}, // only the low byte counts
		{'a', charger.IECUnknown, charger.StatusUnknown, "status"},
		{0, charger.IECUnknown, charger.StatusUnknown, "status"},
	}
	for _, tc := range tests {
		st := decodeStatus(inputBlock(func(r []uint16) { r[0] = tc.reg }), false).state()
		if st.IEC != tc.iec || st.Status != tc.status || st.ErrorCode != tc.code {
			t.Errorf("%#x → %q %q %q, want %q %q %q", tc.reg, st.IEC, st.Status, st.ErrorCode, tc.iec, tc.status, tc.code)
		}
	}
	st := decodeStatus(inputBlock(func(r []uint16) { r[0], r[regError-regStatus] = 'B', 99 }), false).state()
	if st.ErrorCode != "error 99" || st.ErrorText != "undocumented error code 99" {
		t.Errorf("unknown error code: %q %q", st.ErrorCode, st.ErrorText)
	}
}

func TestBadRegisters(t *testing.T) {
	// Negative and implausible values are dropped, not shown.
	st := decodeStatus(inputBlock(func(r []uint16) {
		r[0] = 'C'
		set32(r, regVoltageL1+2, -230)
		set32(r, regCurrentL1, 10)
		set32(r, regCurrentL1+2, 10)
		set32(r, regCurrentL1+4, 10)
		set32(r, regPower, 1<<30)
		set32(r, regEnergy, 0xffffffff)
	}), false).state()
	if st.Voltages != nil || st.Power != nil || st.EnergyTotal != nil || len(st.Currents) != 3 || *st.Phases != 3 {
		t.Fatalf("plausibility: %+v", st)
	}
	// Currents in mA are recognised as such; 90 A is not plausible.
	r := decodeStatus(inputBlock(func(r []uint16) {
		set32(r, regCurrentL1, 6500)
		set32(r, regCurrentL1+2, 0)
		set32(r, regCurrentL1+4, 40)
	}), false)
	if !r.milliamps || r.amps[0] != 6.5 || r.amps[2] != 0.04 {
		t.Fatalf("mA: %v %v", r.milliamps, r.amps)
	}
	if r := decodeStatus(inputBlock(func(r []uint16) { set32(r, regCurrentL1, 90000) }), false); r.amps != nil {
		t.Fatalf("90 A accepted: %v", r.amps)
	}
	// Wrong word counts: a block holding less than asked leaves fields
	// unset instead of panicking.
	b := modbusx.NewBlock()
	b.Put(modbusx.Input, regStatus, []uint16{'C', 0, 0})
	st = decodeStatus(b, true).state()
	if st.Status != charger.StatusCharging || st.Currents != nil || st.Power != nil || st.Phases != nil {
		t.Fatalf("short block: %+v", st)
	}
	if st := decodeStatus(modbusx.NewBlock(), true).state(); st.Status != charger.StatusUnknown || st.ErrorCode != "status" {
		t.Fatalf("empty block: %+v", st)
	}
}

// BenchmarkPoll polls a simulated controller over loopback and reports
// the requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
