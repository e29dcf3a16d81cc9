package mennekes

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestCPStates(t *testing.T) {
	for v, want := range map[uint64]charger.Status{1: charger.StatusNoVehicle, 2: charger.StatusNoVehicle,
		3: charger.StatusConnected, 4: charger.StatusConnected, 5: charger.StatusPaused, 6: charger.StatusCharging,
		7: charger.StatusPaused, 8: charger.StatusCharging, 0: charger.StatusUnknown, 9: charger.StatusUnknown} {
		if _, st := hccCPState(v); st != want {
			t.Errorf("hcc3 %d → %s, want %s", v, st, want)
		}
	}
	for v, want := range map[uint64]charger.IECState{1: charger.IECA, 2: charger.IECB, 3: charger.IECC,
		4: charger.IECD, 5: charger.IECE, 0: charger.IECUnknown, 6: charger.IECUnknown} {
		if iec, _ := benCPState(v); iec != want {
			t.Errorf("bender %d → %s, want %s", v, iec, want)
		}
	}
}

func TestOutOfRange(t *testing.T) {
	b := modbusx.NewBlock()
	states := []uint16{42, 0, 0, 0}
	info := make([]uint16, hccInfoEnd-hccPhases)
	for i := range info {
		info[i] = 0xffff
	}
	b.Put(modbusx.Input, hccCP, states)
	b.Put(modbusx.Input, hccPhases, info)
	b.Put(modbusx.Holding, hccLimit, []uint16{0xffff})
	st, _, ok := decodeHCC3(b)
	if !ok || st.Status != charger.StatusUnknown || st.ErrorCode != "cp" || st.Power != nil || st.Phases != nil ||
		st.CurrentLimit != nil || st.SessionEnergy != nil {
		t.Fatalf("hcc3 out of range: %+v", st)
	}
	if _, _, ok := decodeHCC3(modbusx.NewBlock()); ok {
		t.Fatal("empty block decoded")
	}
	if _, ok := decodeBender(modbusx.NewBlock(), &benReading{}); ok {
		t.Fatal("empty bender block decoded")
	}
}

// BenchmarkPoll polls a simulated HCC3 over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
