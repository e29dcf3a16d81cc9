package genericmodbus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// richDefinition is validDefinition plus identity, a second unit and an
// energy meter.
func richDefinition() Options {
	o := validDefinition()
	o.Connection.MaxGap = 10
	o.Identity = Identity{Brand: "Acme", Model: "X1", Serial: ptr(reg(300, "u32")),
		Firmware: &Register{Address: ptr(302), Type: Type(modbusx.String), Length: 2}}
	temp := reg(10, "s16")
	temp.Unit, temp.Exponent = 5, -1
	o.Measurements.Temperature = &temp
	energy := reg(120, "u32")
	energy.Multiplier = ptr(0.001)
	o.Measurements.EnergyTotal = &energy
	return o
}

func fillRich(s *regSim) {
	s.set(1, false, 100, make([]uint16, 22)...) // max_gap reads the holes too
	s.set(1, false, 100, 2, 0)                  // status C, no error
	s.f32(1, 110, 3680)
	s.set(1, false, 112, 16)
	s.set(1, false, 114, 0, 16, 0, 15)
	s.set(1, false, 120, modbusx.EncodeUint32(1_000_000, modbusx.HighWordFirst)...)
	s.set(1, false, 200, 0, 1, 3, 0)
	s.set(1, false, 300, modbusx.EncodeUint32(123456, modbusx.HighWordFirst)...)
	s.set(1, false, 302, modbusx.EncodeString("1.2", 2, modbusx.HighByteFirst)...)
	s.set(5, false, 10, uint16(215))
}

func newGeneric(t testing.TB, addr string, o Options) *Charger {
	t.Helper()
	c, err := New(charger.Settings{Name: "wb", Address: addr, Timeout: 3 * time.Second, MaxCurrent: 16}, o, nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDriverReadsEveryField(t *testing.T) {
	s := startRegSim(t)
	fillRich(s)
	c := newGeneric(t, s.addr, richDefinition())
	st := poll(t, c)
	want := charger.Identity{Brand: "Acme", Model: "X1", Serial: "123456", Firmware: "1.2"}
	switch {
	case st.IEC != charger.IECC || st.Status != charger.StatusCharging || st.ErrorCode != "":
		t.Fatalf("status: %+v", st)
	case *st.Power != 3680 || *st.CurrentLimit != 16 || !*st.Enabled || *st.Phases != 3:
		t.Fatalf("readings: %s", asJSON(st))
	case !slices.Equal(st.Currents, []float64{16, 15}) || *st.Temperature != 21.5 || *st.EnergyTotal != 1000:
		t.Fatalf("readings: %s", asJSON(st))
	case st.Identity != want:
		t.Fatalf("identity = %+v", st.Identity)
	}
	if s.reads != 4 || c.RequestsPerPoll() != 3 {
		t.Fatalf("first poll took %d reads (%d planned without identity), want 4 and 3", s.reads, c.RequestsPerPoll())
	}

	s.set(1, false, 100, 0) // unplugged, then plugged: the session counts from here
	poll(t, c)
	s.set(1, false, 100, 1, 7) // connected, error 7
	s.set(1, false, 112, 0)
	s.set(1, false, 120, modbusx.EncodeUint32(1_000_500, modbusx.HighWordFirst)...)
	poll(t, c)
	s.set(1, false, 120, modbusx.EncodeUint32(1_002_000, modbusx.HighWordFirst)...)
	st = poll(t, c)
	if st.Status != charger.StatusPaused || *st.Enabled || st.ErrorCode != "E7" || st.SessionEnergy == nil || *st.SessionEnergy != 1.5 {
		t.Fatalf("paused with error 7 after 1.5 kWh: %s", asJSON(st))
	}
	s.set(1, false, 100, 9)
	if st = poll(t, c); st.IEC != charger.IECUnknown || st.ErrorCode != "E7" {
		t.Fatalf("error rule before unknown status: %s", asJSON(st))
	}
	s.set(1, false, 101, 0)
	if st = poll(t, c); st.ErrorCode != "status" || st.ErrorText != `unknown status value "9"` {
		t.Fatalf("unknown status: %s", asJSON(st))
	}
}

func TestDriverSecondaryUnitFailure(t *testing.T) {
	s := startRegSim(t)
	fillRich(s)
	c := newGeneric(t, s.addr, richDefinition())
	s.kill(5)
	if st := poll(t, c); st.Temperature != nil || st.Power == nil {
		t.Fatalf("a dead secondary unit only loses its values: %s", asJSON(st))
	}
	s.kill(1)
	_, err := c.Poll(context.Background())
	if !errors.Is(err, modbusx.ErrGatewayTarget) || !strings.Contains(err.Error(), "unit 1") {
		t.Fatalf("dead status unit: %v", err)
	}
}

func TestDriverCommands(t *testing.T) {
	s := startRegSim(t)
	fillRich(s)
	rec := startRecorder(t, s.addr)
	c := newGeneric(t, rec.Addr(), richDefinition())
	dev := c.Device()
	ctx := context.Background()
	cs, ok1 := dev.(charger.CurrentSetter)
	en, ok2 := dev.(charger.Enabler)
	ph, ok3 := dev.(charger.PhaseSwitcher)
	wd, ok4 := dev.(charger.Watchdogged)
	if !ok1 || !ok2 || !ok3 || !ok4 || wd.RefreshInterval() != 10*time.Second {
		t.Fatalf("capabilities: %v %v %v %v", ok1, ok2, ok3, ok4)
	}
	if lo, hi, step := cs.CurrentRange(); lo != 6 || hi != 16 || step != 1 {
		t.Fatalf("range %v..%v/%v", lo, hi, step)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.SetCurrent(ctx, 10))
	must(en.SetEnabled(ctx, false))
	must(ph.SetPhases(ctx, 1))
	must(wd.Refresh(ctx))
	if got := []uint16{s.get(1, 200), s.get(1, 201), s.get(1, 202), s.get(1, 203)}; !slices.Equal(got, []uint16{10, 0, 1, 1}) {
		t.Fatalf("registers 200..203 = %v", got)
	}
	for _, f := range writes(rec.take()) {
		if f.fc() != 6 {
			t.Fatalf("one-register write with FC%d: %v", f.fc(), f)
		}
	}
	if err := cs.SetCurrent(ctx, 17); err == nil {
		t.Fatal("17 A accepted above max_current 16")
	}
	if err := ph.SetPhases(ctx, 2); err == nil {
		t.Fatal("2 phases accepted")
	}

	o := richDefinition()
	o.Connection.SingleWrite = 16
	o.Enable, o.Phases, o.Watchdog = nil, nil, nil
	c16 := newGeneric(t, rec.Addr(), o)
	if _, ok := c16.Device().(charger.Enabler); ok {
		t.Fatal("Enabler offered without enable")
	}
	if _, ok := c16.Device().(charger.PhaseSwitcher); ok {
		t.Fatal("PhaseSwitcher offered without phases")
	}
	must(c16.SetCurrent(ctx, 7))
	if w := writes(rec.take()); len(w) != 1 || w[0].fc() != 16 || s.get(1, 200) != 7 {
		t.Fatalf("single_write_function 16: %v, register %d", w, s.get(1, 200))
	}
}

// TestDriverEncodings: input table, low word first, signed scaled values
// and unavailable markers.
func TestDriverEncodings(t *testing.T) {
	s := startRegSim(t)
	o := validDefinition()
	o.Status.Register.Table = Table(modbusx.Input)
	power := reg(110, "s32")
	power.WordOrder, power.Multiplier = 1, ptr(0.1)
	o.Measurements.Power = &power
	o.Measurements.CurrentLimit.Unavailable = []string{"0xFFFF"}
	o.Measurements.Enabled = nil
	s.set(1, true, 100, 1)
	s.set(1, false, 101, 0)
	s.set(1, false, 110, modbusx.EncodeUint32(uint32(0xffffffff-12344), modbusx.LowWordFirst)...) // -12345
	s.set(1, false, 112, 0xffff)
	s.set(1, false, 114, 0, 1, 0xffff, 0xffff)
	s.set(1, false, 202, 3)
	c := newGeneric(t, s.addr, o)
	st := poll(t, c)
	if st.IEC != charger.IECB || *st.Power != -1234.5 || st.CurrentLimit != nil || !slices.Equal(st.Currents, []float64{1, -1}) {
		t.Fatalf("decoded %s", asJSON(st))
	}
}
