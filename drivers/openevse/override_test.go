package openevse

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
)

// A manual override outranks evbridge's claim for what it sets, and for
// nothing else.
func TestManualOverrideWins(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Car: quickCar, Plugged: true})
	d := newDriver(t, s.Addr(), nil)
	if err := d.SetCurrent(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, d, "charging at 10 A", func(st charger.State) bool { return st.Currents[0] == 10 })

	// The user stops charging at the charger.
	s.SetOverride("disabled", 0)
	before := s.Requests()
	st := pollUntil(t, d, "the override to stop charging", func(st charger.State) bool {
		return st.Status == charger.StatusPaused && *st.Power == 0
	})
	if got := delta(before, s.Requests()); got["GET /override"] == 0 {
		t.Errorf("a poll with an override active did not read it: %v", got)
	}
	if *st.Enabled || st.ErrorCode != ErrorCodeOverride || !strings.Contains(st.ErrorText, "holds state=disabled") ||
		!strings.Contains(st.ErrorText, "priority 1000 over 500") {
		t.Fatalf("override not reported: %s", dump(st))
	}

	// evbridge asks to charge: stored, but the override wins and says so.
	err := d.SetEnabled(t.Context(), true)
	if !errors.Is(err, charger.ErrRejected) || !errors.Is(err, ErrOverridden) ||
		!strings.Contains(err.Error(), "it holds state=disabled") {
		t.Fatalf("enable under an override: %v", err)
	}
	sn := s.Snapshot()
	if sn.Status != "disabled" || d.claim.State != "active" {
		t.Fatalf("status %s, own claim %+v: the override must win, evbridge's claim must be kept", sn.Status, d.claim)
	}
	// The current is not the override's business: it applies.
	if err := d.SetCurrent(t.Context(), 12); err != nil {
		t.Fatalf("current under a state-only override: %v", err)
	}
	if sn := s.Snapshot(); sn.Pilot != 12 {
		t.Fatalf("pilot %d, want 12", sn.Pilot)
	}

	// Cleared at the charger (button): evbridge's claim takes over again.
	s.ToggleOverride()
	st = pollUntil(t, d, "charging at 12 A", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && st.Currents[0] == 12
	})
	if st.ErrorCode != "" || st.ErrorText != "" || !*st.Enabled {
		t.Fatalf("after the override: %s", dump(st))
	}
	if got := s.Requests(); got["DELETE /override"] != 0 || got["PATCH /override"] != 0 || got["POST /override"] != 0 {
		t.Errorf("the driver touched the override: %v", got)
	}
}

func TestOverrideHoldingTheCurrent(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{Plugged: true, OverrideNoneEmpty: true})
	d := newDriver(t, s.Addr(), nil)
	if err := d.SetCurrent(t.Context(), 8); err != nil { // override reads {}: none
		t.Fatalf("with no override (GET /override answering {}): %v", err)
	}
	s.SetOverride("", 16)
	if err := d.SetCurrent(t.Context(), 10); !errors.Is(err, ErrOverridden) ||
		!strings.Contains(err.Error(), "it holds charge_current=16 A") {
		t.Fatalf("current under a current override: %v", err)
	}
	if err := d.SetEnabled(t.Context(), false); err != nil {
		t.Fatalf("state under a current-only override: %v", err)
	}
	sn := s.Snapshot()
	if sn.Pilot != 16 || sn.Status != "disabled" {
		t.Fatalf("pilot %d status %s, want the override's 16 A and evbridge's disabled", sn.Pilot, sn.Status)
	}
	st, err := d.Poll(t.Context())
	if err != nil || !strings.Contains(st.ErrorText, "holds charge_current=16 A") {
		t.Fatalf("poll: %v %s", err, dump(st))
	}
	// The car leaves: the override auto-releases (its firmware default).
	s.Plug(false)
	if sn := s.Snapshot(); sn.ManualOverride || sn.Pilot != 10 {
		t.Fatalf("after unplugging: override %t pilot %d", sn.ManualOverride, sn.Pilot)
	}
	st, err = d.Poll(t.Context())
	if err != nil || st.ErrorCode != "" {
		t.Fatalf("after the override left: %v %s", err, dump(st))
	}
}

// The firmware's claim resolution, per property.
func TestClaimPriorities(t *testing.T) {
	s := NewSimulator(SimConfig{MaxCurrentSoft: 24})
	claim := func(c SimClaim) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.dev.claim(c) {
			t.Fatalf("claim %+v refused", c)
		}
		s.dev.resolve(s.cfg)
	}
	claim(SimClaim{Client: 1, Priority: 500, State: "disabled", ChargeCurrent: 20})
	claim(SimClaim{Client: 2, Priority: 100, State: "active", ChargeCurrent: 7, MaxCurrent: 10})
	sn := s.Snapshot()
	if sn.Status != "disabled" || sn.Pilot != 10 || sn.MaxCurrent != 10 {
		t.Errorf("status %s pilot %d max %d: state and 20 A from 500, yet the lower claim's max_current caps",
			sn.Status, sn.Pilot, sn.MaxCurrent)
	}
	claim(SimClaim{Client: 3, Priority: 500, State: "active", ChargeCurrent: 6})
	if sn := s.Snapshot(); sn.Status != "disabled" || sn.Pilot != 10 {
		t.Errorf("a tie keeps the earlier claim: status %s pilot %d", sn.Status, sn.Pilot)
	}
	claim(SimClaim{Client: 4, Priority: 1100, ChargeCurrent: 3})
	if sn := s.Snapshot(); sn.Pilot != 6 {
		t.Errorf("pilot %d: below min_current_hard it is raised to 6", sn.Pilot)
	}
	for c := uint32(5); c <= 10; c++ {
		claim(SimClaim{Client: c, Priority: 10})
	}
	s.mu.Lock()
	full := s.dev.claim(SimClaim{Client: 11, Priority: 10})
	s.mu.Unlock()
	if full {
		t.Error("an eleventh claim found a slot")
	}
}

func TestClaimSlotsFull(t *testing.T) {
	t.Parallel()
	s := startSim(t, SimConfig{})
	s.mu.Lock()
	for c := uint32(1); c <= maxClaims; c++ {
		s.dev.claim(SimClaim{Client: c, Priority: 10})
	}
	s.mu.Unlock()
	d := newDriver(t, s.Addr(), nil)
	err := d.SetCurrent(t.Context(), 10)
	if !errors.Is(err, charger.ErrRejected) || !strings.Contains(err.Error(), `"Could not make claim"`) {
		t.Fatalf("no free slot: %v", err)
	}
	if got := s.Requests(); got["GET /override"] != 0 {
		t.Errorf("after a refused claim the driver still read the override: %v", got)
	}
	want := SimClaim{Client: 1, Priority: 10}
	if sn := s.Snapshot(); len(sn.Claims) != maxClaims || !reflect.DeepEqual(sn.Claims[0], want) {
		t.Fatalf("claims changed: %+v", sn.Claims)
	}
}
