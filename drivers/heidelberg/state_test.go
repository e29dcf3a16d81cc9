package heidelberg

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestStates(t *testing.T) {
	tests := []struct {
		code   uint16
		iec    charger.IECState
		status charger.Status
	}{
		{2, charger.IECA, charger.StatusNoVehicle},
		{3, charger.IECA, charger.StatusNoVehicle},
		{4, charger.IECB, charger.StatusConnected},
		{5, charger.IECB, charger.StatusConnected},
		{6, charger.IECC, charger.StatusPaused},
		{7, charger.IECC, charger.StatusCharging},
		{8, charger.IECC, charger.StatusCharging},
		{9, charger.IECE, charger.StatusError},
		{10, charger.IECF, charger.StatusUnavailable},
		{11, charger.IECF, charger.StatusError},
		{0, charger.IECUnknown, charger.StatusUnknown},
		{12, charger.IECUnknown, charger.StatusUnknown},
	}
	for _, tc := range tests {
		if iec, st := stateOf(tc.code); iec != tc.iec || st != tc.status {
			t.Errorf("%d → %q %q, want %q %q", tc.code, iec, st, tc.iec, tc.status)
		}
	}
}

func TestStatusOutOfRange(t *testing.T) {
	b := modbusx.NewBlock()
	regs := make([]uint16, statusEnd-regLayout)
	regs[regLayout-4] = 0x0106 // before V1.0.7: no lifetime energy
	regs[regState-4] = 99
	regs[regCurrentL1-4] = 0xffff
	regs[regTemperature-4] = 0x8000 // -3276.8 °C
	regs[regVoltageL1+1-4] = 0xffff
	regs[regEnergyTotal-4] = 7
	b.Put(modbusx.Input, regLayout, regs)
	st := decodeStatus(b).state(control{})
	if st.Status != charger.StatusUnknown || st.ErrorCode != "state" || st.Currents != nil || st.Voltages != nil ||
		st.Temperature != nil || st.EnergyTotal != nil || *st.Enabled {
		t.Fatalf("bad registers: %+v", st)
	}
	// Nothing read at all.
	st = decodeStatus(modbusx.NewBlock()).state(control{})
	if st.Power != nil || st.Currents != nil || st.IEC != charger.IECUnknown {
		t.Fatalf("empty block: %+v", st)
	}
}

// BenchmarkPoll polls a simulated box behind an RTU gateway over loopback
// and reports the requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 3) }
