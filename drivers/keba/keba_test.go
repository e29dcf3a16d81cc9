package keba

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

func TestPollMatchesSimulator(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Serial: "19283746", Firmware: "P30 v 3.10.42 (200101-010101)", Car: quickCar, Plugged: true}, fast)
	d := newDriver(t, s, nil, 2*time.Second)
	eventually(t, "the car to charge at 16 A", func() (bool, any) {
		sn := s.Snapshot()
		return sn.State == 3 && sn.Currents == [3]float64{16, 16, 16}, sn
	})
	st, sn := consistentPoll(t, s, d)
	want := charger.State{
		IEC: charger.IECC, Status: charger.StatusCharging, Enabled: charger.Ptr(true),
		CurrentLimit: charger.Ptr(16.0), Power: charger.Ptr(sn.Power),
		Currents: sn.Currents[:], Voltages: sn.Voltages[:], Phases: charger.Ptr(3),
		SessionEnergy: charger.Ptr(kWh(sn.SessionTenthWh)), EnergyTotal: charger.Ptr(kWh(sn.ETl)),
		Identity: charger.Identity{Brand: "KEBA", Model: "KC-P30-EC240422-E00", Serial: "19283746",
			Firmware: "P30 v 3.10.42 (200101-010101)"},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("poll:\n got %s\nwant %s", dump(st), dump(want))
	}
	if *st.Power != 16*230*3 || *st.SessionEnergy <= 0 || *st.EnergyTotal < 1234.5 {
		t.Fatalf("a charging car must show power and energy: %s", dump(st))
	}
	if lo, hi, step := d.CurrentRange(); lo != 6 || hi != 16 || step != 0.1 {
		t.Errorf("range %v..%v/%v, want 6..16/0.1 (Curr HW)", lo, hi, step)
	}

	s.Plug(false)
	eventually(t, "the station to see the unplug", func() (bool, any) {
		sn := s.Snapshot()
		return sn.Plug == 3, sn
	})
	st, sn = consistentPoll(t, s, d)
	if st.IEC != charger.IECA || st.Status != charger.StatusNoVehicle || *st.Power != 0 ||
		st.Phases != nil || *st.EnergyTotal != kWh(sn.ETl) {
		t.Fatalf("unplugged: %s", dump(st))
	}
}

func TestFirstPollReadsIdentityOnce(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	d := newDriver(t, s, nil, 2*time.Second)
	for range 3 {
		if _, err := d.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Reports; got != [4]int{0, 1, 3, 3} {
		t.Fatalf("reports 1..3 asked %v times, want report 1 once and 2, 3 every poll", got[1:])
	}
}

func TestSetCurrentCarFollows(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true}, fast)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	pollUntil(t, d, "charging at 16 A", func(st charger.State) bool { return st.Currents[0] == 16 })

	if err := d.SetCurrent(t.Context(), 10.77); err != nil {
		t.Fatal(err)
	}
	if got := rec.settings(); !slices.Equal(got, []string{"currtime 10700 1"}) {
		t.Fatalf("station was told %q, want currtime 10700 1", got)
	}
	st := pollUntil(t, d, "the car to draw 10.7 A", func(st charger.State) bool {
		return st.Currents[0] == 10.7 && st.Currents[2] == 10.7
	})
	if *st.CurrentLimit != 10.7 || st.Status != charger.StatusCharging {
		t.Fatalf("after the car followed: %s", dump(st))
	}
	if sn := s.Snapshot(); sn.CurrUser != 10700 || sn.MaxCurr != 10700 {
		t.Fatalf("station: Curr user %d Max curr %d, want 10700", sn.CurrUser, sn.MaxCurr)
	}
}

func TestCurrCommandForP20(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true}, fast)
	var rec recorder
	s.OnCommand(rec.add)
	o := testOptions()
	o.CurrentCommand = "curr"
	d := newDriver(t, s, o, 2*time.Second)
	if err := d.SetCurrent(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	if got := rec.settings(); !slices.Equal(got, []string{"curr 8000"}) {
		t.Fatalf("station was told %q, want curr 8000", got)
	}
	if sn := s.Snapshot(); sn.CurrUser != 8000 {
		t.Fatalf("Curr user %d, want 8000 at once", sn.CurrUser)
	}
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true}, fast)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	pollUntil(t, d, "charging", func(st charger.State) bool { return st.Status == charger.StatusCharging })

	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "paused", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && !*st.Enabled && *st.Power == 0 && st.IEC == charger.IECB
	})
	if err := d.SetEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging again", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && *st.Enabled && *st.Power > 0
	})
	if got := rec.settings(); !slices.Equal(got, []string{"ena 0", "ena 1"}) {
		t.Fatalf("station was told %q", got)
	}
}

// A current set while evbridge holds the station disabled must not reach
// it: currtime would enable the station again (guide §3.3.1).
func TestCurrentHeldWhileDisabled(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true}, fast)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	ctx := t.Context()
	if err := d.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCurrent(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if got := rec.settings(); !slices.Equal(got, []string{"ena 0"}) {
		t.Fatalf("while disabled the station was told %q", got)
	}
	if err := d.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := rec.settings(); !slices.Equal(got, []string{"ena 0", "ena 1", "currtime 8000 1"}) {
		t.Fatalf("station was told %q, want the held current after ena 1", got)
	}
	pollUntil(t, d, "charging at 8 A", func(st charger.State) bool { return st.Currents[0] == 8 })
}

func TestRejectedValues(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{}, fast)
	var rec recorder
	s.OnCommand(rec.add)
	d := newDriver(t, s, nil, 2*time.Second)
	if _, err := d.Poll(t.Context()); err != nil { // learns Curr HW = 16 A
		t.Fatal(err)
	}
	for _, a := range []float64{5, 5.99, 16.1, 63, -1, math.NaN(), math.Inf(1)} {
		if err := d.SetCurrent(t.Context(), a); !errors.Is(err, charger.ErrRejected) {
			t.Errorf("SetCurrent(%v) = %v, want ErrRejected", a, err)
		}
	}
	if got := rec.settings(); len(got) != 0 {
		t.Fatalf("refused values reached the station: %q", got)
	}
	s.SetFault(FaultRefuse)
	if err := d.SetEnabled(t.Context(), false); !errors.Is(err, charger.ErrRejected) {
		t.Fatalf("TCH-ERR answer: %v, want ErrRejected", err)
	}
}

func TestCurrentRangeCaps(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{HWCurrent: 32000}, fast)
	o := testOptions()
	d, err := New(charger.Settings{Address: s.Addr(), MaxCurrent: 20.55}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.t = s.t
	defer d.Close()
	if _, hi, _ := d.CurrentRange(); hi != 20.5 {
		t.Errorf("before a poll: max %v, want the configured 20.5", hi)
	}
	d.maxCur = 0
	if _, hi, _ := d.CurrentRange(); hi != 32 {
		t.Errorf("nothing known: max %v, want 32", hi)
	}
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, hi, _ := d.CurrentRange(); hi != 32 {
		t.Errorf("Curr HW 32 A: max %v", hi)
	}
}
