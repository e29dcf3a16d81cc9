package web_test

import (
	"net/http/httptest"

	"github.com/evbridge/evbridge/bridge"
)

// stubBridge is a bridge with nothing in it, for tests of the router alone.
type stubBridge struct{}

func (stubBridge) Chargers() []bridge.ChargerView              { return nil }
func (stubBridge) Charger(string) (bridge.ChargerView, bool)   { return bridge.ChargerView{}, false }
func (stubBridge) Submit(string, bridge.Command, string) error { return bridge.ErrUnknownCharger }
func (stubBridge) Subscribe() (<-chan bridge.Event, func()) {
	return make(chan bridge.Event), func() {}
}
func (stubBridge) Site() (bridge.SiteState, bool)        { return bridge.SiteState{}, false }
func (stubBridge) SiteEnabled() bool                     { return false }
func (stubBridge) Ready() bool                           { return false }
func (stubBridge) Connected() bool                       { return false }
func (stubBridge) BrokerURL() string                     { return "tcp://user:secret@127.0.0.1:1883" }
func (stubBridge) Pending() []bridge.Candidate           { return nil }
func (stubBridge) Accept(string, string) (string, error) { return "", nil }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
