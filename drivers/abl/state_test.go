package abl

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
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
		{0xC4, charger.IECC, charger.StatusCharging, "C4"},
		{0xE0, charger.IECUnknown, charger.StatusUnavailable, "E0"},
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

func TestOutOfRange(t *testing.T) {
	b := modbusx.NewBlock()
	meter := make([]uint16, meterEnd-regCurrentL1)
	for i := range meter {
		meter[i] = 0xffff // every U32 reads 4294967295
	}
	b.Put(modbusx.Holding, regCurrentL1, meter)
	b.Put(modbusx.Holding, regState, []uint16{0x0077, 0})
	st := decode(b, 0).state()
	if st.Currents != nil || st.Voltages != nil || st.Power != nil || st.EnergyTotal != nil ||
		st.Status != charger.StatusUnknown || st.ErrorCode != "state" {
		t.Fatalf("out-of-range registers: %+v", st)
	}
	if st := decode(modbusx.NewBlock(), 0).state(); st.Status != "" || st.Enabled != nil {
		t.Fatalf("nothing read: %+v", st)
	}
}

// BenchmarkPoll polls a simulated eM4 over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
