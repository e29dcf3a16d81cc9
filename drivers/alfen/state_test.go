package alfen

import (
	"math"
	"slices"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestMode3States(t *testing.T) {
	tests := []struct {
		in     string
		iec    charger.IECState
		status charger.Status
	}{
		{"A", charger.IECA, charger.StatusNoVehicle},
		{"B1", charger.IECB, charger.StatusConnected},
		{"B2", charger.IECB, charger.StatusConnected},
		{"C1", charger.IECC, charger.StatusPaused},
		{"C2", charger.IECC, charger.StatusCharging},
		{"D1", charger.IECD, charger.StatusPaused},
		{"D2", charger.IECD, charger.StatusCharging},
		{"E", charger.IECE, charger.StatusNoVehicle},
		{"F", charger.IECF, charger.StatusError},
		{"", charger.IECUnknown, charger.StatusUnknown},
		{"????", charger.IECUnknown, charger.StatusUnknown},
		{"c2", charger.IECUnknown, charger.StatusUnknown},
	}
	for _, tc := range tests {
		iec, st := mode3State(tc.in)
		if iec != tc.iec || st != tc.status {
			t.Errorf("%q → %q %q, want %q %q", tc.in, iec, st, tc.iec, tc.status)
		}
	}
}

// socketBlock builds the two socket reads with every register NaN except
// those set.
func socketBlock(set func(meter, status *image)) *modbusx.Block {
	meter, status := newImage(regMeterState, meterEnd), newImage(regAvailability, socketEnd)
	set(meter, status)
	b := modbusx.NewBlock()
	b.Put(modbusx.Holding, meter.start, meter.regs)
	b.Put(modbusx.Holding, status.start, status.regs)
	return b
}

func TestStateFromRegisters(t *testing.T) {
	// Everything unavailable: nothing is invented.
	st := decodeSocket(socketBlock(func(m, s *image) {})).state()
	if st.Status != charger.StatusUnknown || st.Enabled != nil || st.Power != nil || st.Currents != nil ||
		st.EnergyTotal != nil || st.Phases != nil || st.CurrentLimit != nil || st.ErrorCode != "mode3" {
		t.Fatalf("all-NaN state = %+v", st)
	}
	// A single-phase meter: L2 and L3 unavailable.
	st = decodeSocket(socketBlock(func(m, s *image) {
		m.f32(regVoltageL1, 231)
		m.f32(regCurrentL1, 7.5)
		m.u16(regMeterState, meterBitInit|meterBitError)
		s.u16(regAvailability, 1)
		s.str(regMode3, 5, "B2")
		s.f32(regApplied, 0)
		s.u16(regPhases, 2) // not 1 or 3: unknown
	})).state()
	if !slices.Equal(st.Voltages, []float64{231}) || !slices.Equal(st.Currents, []float64{7.5}) {
		t.Fatalf("single phase: V %v A %v", st.Voltages, st.Currents)
	}
	if st.ErrorCode != "meter" || st.Status != charger.StatusPaused || *st.Enabled || st.Phases != nil {
		t.Fatalf("meter error, 0 A applied: %+v", st)
	}
	// Inoperative socket.
	st = decodeSocket(socketBlock(func(m, s *image) {
		s.u16(regAvailability, 0)
		s.str(regMode3, 5, "A")
	})).state()
	if st.Status != charger.StatusUnavailable || st.ErrorCode != "inoperative" {
		t.Fatalf("inoperative: %+v", st)
	}
	// A valid setpoint decides "enabled" before the applied current does.
	r := decodeSocket(socketBlock(func(m, s *image) {
		s.str(regMode3, 5, "C1")
		s.f32(regApplied, 6)
		s.f32(regSetpoint, 0)
		s.u32(regValidLeft, 30)
		s.u16(regAccounted, 1)
		m.f64(regEnergySum, math.Inf(1))
	}))
	if st = r.state(); *st.Enabled || st.EnergyTotal != nil || !r.setpointValid() {
		t.Fatalf("setpoint 0 A: %+v", st)
	}
}

// BenchmarkPoll polls a simulated station over loopback and reports the
// requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 1) }
