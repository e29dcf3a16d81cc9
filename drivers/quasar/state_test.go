package quasar

import (
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// regsBlock builds the two every-poll reads with every register 0 except
// those set: st is 526..542, act is 256..258.
func regsBlock(set func(st, act []uint16)) *modbusx.Block {
	st, act := make([]uint16, statusEnd-regActualPower), make([]uint16, actionEnd-regLock)
	set(st, act)
	b := modbusx.NewBlock()
	b.Put(modbusx.Holding, regActualPower, st)
	b.Put(modbusx.Holding, regLock, act)
	return b
}

const (
	iState = regState - regActualPower
	iSoC   = regSoC - regActualPower
	iErr   = regError1 - regActualPower
)

func TestStates(t *testing.T) {
	tests := []struct {
		code   uint16
		iec    charger.IECState
		status charger.Status
		err    string
	}{
		{0, charger.IECA, charger.StatusNoVehicle, ""},
		{1, charger.IECC, charger.StatusCharging, ""},
		{2, charger.IECB, charger.StatusConnected, ""},
		{3, charger.IECB, charger.StatusPaused, ""},
		{4, charger.IECB, charger.StatusPaused, ""},
		{5, charger.IECB, charger.StatusComplete, ""},
		{6, charger.IECA, charger.StatusUnavailable, ""},
		{7, charger.IECF, charger.StatusError, "error"},
		{8, charger.IECB, charger.StatusPaused, ""},
		{9, charger.IECF, charger.StatusError, "power_sharing"},
		{10, charger.IECB, charger.StatusPaused, ""},
		{11, charger.IECB, charger.StatusConnected, ""},
		{12, charger.IECUnknown, charger.StatusUnknown, "state"},
		{0xffff, charger.IECUnknown, charger.StatusUnknown, "state"},
	}
	for _, tc := range tests {
		st := decodeStatus(regsBlock(func(st, _ []uint16) { st[iState] = tc.code })).state(unknownControl())
		if st.IEC != tc.iec || st.Status != tc.status || st.ErrorCode != tc.err {
			t.Errorf("state %d → %q %q %q, want %q %q %q", tc.code, st.IEC, st.Status, st.ErrorCode, tc.iec, tc.status, tc.err)
		}
	}
	locked := decodeStatus(regsBlock(func(_, act []uint16) { act[0] = 1 })).state(unknownControl())
	if locked.Status != charger.StatusUnavailable || locked.IEC != charger.IECA {
		t.Errorf("locked without a car: %s %s", locked.IEC, locked.Status)
	}
}

func TestControlView(t *testing.T) {
	remote := controlRegs{mode: controlRemote, typ: typeCurrent, idle: 30}
	tests := []struct {
		name         string
		ctrl         controlRegs
		code, action uint16
		current      int16
		enabled      *bool
		limit        *float64
		status       charger.Status
	}{
		{"user control", controlRegs{controlUser, typeCurrent, 30}, 1, actionStart, 16, nil, nil, charger.StatusCharging},
		{"unknown control", unknownControl(), 1, actionStart, 16, nil, nil, charger.StatusCharging},
		{"started", remote, 1, actionStart, 16, charger.Ptr(true), charger.Ptr(16.0), charger.StatusCharging},
		{"stopped", remote, 2, actionStop, 16, charger.Ptr(false), charger.Ptr(0.0), charger.StatusPaused},
		{"never started", remote, 4, 0, 16, charger.Ptr(false), charger.Ptr(0.0), charger.StatusPaused},
		{"discharging", remote, 11, actionStart, -10, charger.Ptr(true), charger.Ptr(0.0), charger.StatusConnected},
		{"power setpoints", controlRegs{controlRemote, typePower, 30}, 1, actionStart, 16, charger.Ptr(true), nil, charger.StatusCharging},
		{"action unreadable", remote, 1, 9, 16, nil, nil, charger.StatusCharging},
		{"current implausible", remote, 1, actionStart, 100, charger.Ptr(true), nil, charger.StatusCharging},
	}
	for _, tc := range tests {
		st := decodeStatus(regsBlock(func(st, act []uint16) {
			st[iState], act[1], act[2] = tc.code, tc.action, uint16(tc.current)
		})).state(tc.ctrl)
		if !eq(st.Enabled, tc.enabled) || !eq(st.CurrentLimit, tc.limit) || st.Status != tc.status {
			t.Errorf("%s: enabled %v limit %v status %s", tc.name, show(st.Enabled), show(st.CurrentLimit), st.Status)
		}
	}
}

func eq[T comparable](a, b *T) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestBadRegisters(t *testing.T) {
	r := decodeStatus(regsBlock(func(st, act []uint16) {
		for i := range st {
			st[i] = 0xffff
		}
		st[0] = 0x8000 // -32768 W
		act[1], act[2] = 0xffff, 0x7fff
	}))
	st := r.state(controlRegs{controlRemote, typeCurrent, 30})
	if st.Power != nil || r.socOK || st.Enabled != nil || st.CurrentLimit != nil {
		t.Fatalf("garbage published: %+v soc %v", st, r.socOK)
	}
	if st.ErrorCode != "ffff-ffff-ffff-ffff" || st.Status != charger.StatusUnknown {
		t.Fatalf("garbage: %q %s", st.ErrorCode, st.Status)
	}
	r = decodeStatus(regsBlock(func(st, _ []uint16) { st[0], st[iSoC] = uint16(0xffff-1999), 101 }))
	if !r.powerOK || r.power != -2000 || r.socOK {
		t.Fatalf("signed power %v %v, SoC 101 ok %v", r.power, r.powerOK, r.socOK)
	}
	if r := decodeStatus(regsBlock(func(st, _ []uint16) { st[iSoC] = 0 })); r.socOK {
		t.Fatal("SoC 0 (no reading) taken as a value")
	}
	// A block holding less than asked leaves fields unset instead of
	// panicking.
	b := modbusx.NewBlock()
	b.Put(modbusx.Holding, regActualPower, []uint16{100})
	st = decodeStatus(b).state(controlRegs{controlRemote, typeCurrent, 30})
	if st.Status != charger.StatusUnknown || st.ErrorCode != "state" || *st.Power != 100 || st.Enabled != nil {
		t.Fatalf("short block: %+v", st)
	}
	if st := decodeStatus(modbusx.NewBlock()).state(unknownControl()); st.Status != charger.StatusUnknown || st.Power != nil {
		t.Fatalf("empty block: %+v", st)
	}
	c := decodeControl(modbusx.NewBlock(), controlRegs{controlRemote, typeCurrent, 30})
	if c.mode != -1 || c.typ != -1 || c.idle != 30 {
		t.Fatalf("unread control block: %+v", c)
	}
	b = modbusx.NewBlock()
	b.Put(modbusx.Holding, regControl, []uint16{7, 1, 9})
	if c := decodeControl(b, unknownControl()); c.mode != -1 || c.typ != -1 {
		t.Fatalf("undocumented control values: %+v", c)
	}
}

func TestErrorRegisters(t *testing.T) {
	st := decodeStatus(regsBlock(func(st, _ []uint16) { st[iState], st[iErr+2] = 4, 0x0100 })).state(unknownControl())
	if st.ErrorCode != "0000-0000-0100-0000" || st.Status != charger.StatusPaused {
		t.Fatalf("error registers: %q %s", st.ErrorCode, st.Status)
	}
}
