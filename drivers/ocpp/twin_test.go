package ocpp

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/evbridge/evbridge/bridge/charger"
)

// twinCP is a two-connector OCPP 1.6 station driven frame by frame: it
// answers the central system's calls as an accepting station would and
// records the charging profiles per connector.
type twinCP struct {
	t   *testing.T
	c   *websocket.Conn
	wmu sync.Mutex

	mu       sync.Mutex
	profiles map[int][]float64 // connectorId → limits of accepted profiles
	answers  map[string]chan []any
	seq      int
}

func connectTwin(t *testing.T, url string) *twinCP {
	t.Helper()
	c, _, err := dialRaw(t, url, []string{ProtoOCPP16}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tw := &twinCP{t: t, c: c, profiles: map[int][]float64{}, answers: map[string]chan []any{}}
	go tw.readLoop()
	return tw
}

func (tw *twinCP) write(v any) {
	b, _ := json.Marshal(v)
	tw.wmu.Lock()
	defer tw.wmu.Unlock()
	_ = tw.c.WriteMessage(websocket.TextMessage, b)
}

func (tw *twinCP) readLoop() {
	for {
		_, msg, err := tw.c.ReadMessage()
		if err != nil {
			return
		}
		var f []json.RawMessage
		if json.Unmarshal(msg, &f) != nil || len(f) < 3 {
			continue
		}
		var typ int
		var uid string
		_ = json.Unmarshal(f[0], &typ)
		_ = json.Unmarshal(f[1], &uid)
		if typ != 2 {
			tw.mu.Lock()
			ch := tw.answers[uid]
			tw.mu.Unlock()
			if ch != nil {
				var all []any
				_ = json.Unmarshal(msg, &all)
				ch <- all
			}
			continue
		}
		var action string
		_ = json.Unmarshal(f[2], &action)
		switch action {
		case "SetChargingProfile":
			var req struct {
				ConnectorID int `json:"connectorId"`
				Profile     struct {
					Schedule struct {
						Periods []struct {
							Limit float64 `json:"limit"`
						} `json:"chargingSchedulePeriod"`
					} `json:"chargingSchedule"`
				} `json:"csChargingProfiles"`
			}
			_ = json.Unmarshal(f[3], &req)
			if len(req.Profile.Schedule.Periods) > 0 {
				tw.mu.Lock()
				tw.profiles[req.ConnectorID] = append(tw.profiles[req.ConnectorID], req.Profile.Schedule.Periods[0].Limit)
				tw.mu.Unlock()
			}
			tw.write([]any{3, uid, map[string]any{"status": "Accepted"}})
		case "GetConfiguration":
			tw.write([]any{3, uid, map[string]any{"configurationKey": []any{
				map[string]any{"key": "NumberOfConnectors", "readonly": true, "value": "2"}}}})
		case "ChangeConfiguration", "TriggerMessage", "ClearChargingProfile":
			tw.write([]any{3, uid, map[string]any{"status": "Accepted"}})
		default:
			tw.write([]any{4, uid, "NotSupported", "", map[string]any{}})
		}
	}
}

// call sends a request and waits for its answer.
func (tw *twinCP) call(action string, payload any) []any {
	tw.t.Helper()
	tw.mu.Lock()
	tw.seq++
	uid := fmt.Sprintf("tw%d", tw.seq)
	ch := make(chan []any, 1)
	tw.answers[uid] = ch
	tw.mu.Unlock()
	tw.write([]any{2, uid, action, payload})
	select {
	case f := <-ch:
		if f[0] != float64(3) {
			tw.t.Fatalf("%s: %v", action, f)
		}
		return f
	case <-time.After(20 * time.Second):
		tw.t.Fatalf("%s: no answer", action)
		return nil
	}
}

func (tw *twinCP) status(conn int, status string) {
	tw.t.Helper()
	tw.call("StatusNotification", map[string]any{"connectorId": conn, "errorCode": "NoError", "status": status})
}

func (tw *twinCP) meter(conn int, watts, wh float64) {
	tw.t.Helper()
	ts := time.Now().UTC().Format(time.RFC3339)
	tw.call("MeterValues", map[string]any{"connectorId": conn, "meterValue": []any{map[string]any{
		"timestamp": ts, "sampledValue": []any{
			map[string]any{"value": fmt.Sprint(watts), "measurand": "Power.Active.Import", "unit": "W"},
			map[string]any{"value": fmt.Sprint(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
		}}}})
}

func (tw *twinCP) lastProfile(conn int) (float64, int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	p := tw.profiles[conn]
	if len(p) == 0 {
		return 0, 0
	}
	return p[len(p)-1], len(p)
}

// A station with two connectors is two chargers: each connector's status,
// meter values and transaction stay its own, and a current set on one
// becomes a charging profile for that connector only.
func TestTwoConnectorStation(t *testing.T) {
	t.Parallel()
	cs, reg, _ := startCS(t, testConfig())
	left := newDriver(t, reg, "TWIN", &Options{Connector: 1})
	right := newDriver(t, reg, "TWIN", &Options{Connector: 2})
	tw := connectTwin(t, cs.URL()+"/TWIN")
	tw.call("BootNotification", map[string]any{"chargePointVendor": "Raw", "chargePointModel": "Twin"})
	tw.status(0, "Available")
	tw.status(1, "Preparing")
	tw.status(2, "Available")
	start := tw.call("StartTransaction", map[string]any{"connectorId": 1, "idTag": "TAG1", "meterStart": 5000,
		"timestamp": time.Now().UTC().Format(time.RFC3339)})
	if info, _ := start[2].(map[string]any)["idTagInfo"].(map[string]any); info["status"] != "Accepted" {
		t.Fatalf("StartTransaction: %v", start)
	}
	tw.status(1, "Charging")
	tw.meter(1, 7000, 6500)

	st := pollUntil(t, left, "connector 1 charging at 7 kW", func(st charger.State) bool {
		return st.Status == charger.StatusCharging && st.Power != nil && *st.Power == 7000
	})
	if st.SessionEnergy == nil || *st.SessionEnergy != 1.5 {
		t.Errorf("connector 1 session energy %v, want 1.5 kWh", dump(st.SessionEnergy))
	}
	st = pollUntil(t, right, "connector 2 free", func(st charger.State) bool { return st.Status == charger.StatusNoVehicle })
	if st.Power != nil && *st.Power != 0 || st.SessionEnergy != nil && *st.SessionEnergy != 0 {
		t.Errorf("connector 2 took connector 1's values: %s", dump(st))
	}

	if err := right.SetCurrent(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if limit, n := tw.lastProfile(2); limit != 10 || n == 0 {
		t.Fatalf("connector 2 profile: limit %v (%d profiles)", limit, n)
	}
	_, before := tw.lastProfile(1)
	if err := left.SetCurrent(t.Context(), 13); err != nil {
		t.Fatal(err)
	}
	if limit, n := tw.lastProfile(1); limit != 13 || n == before {
		t.Fatalf("connector 1 profile: limit %v (%d profiles)", limit, n)
	}
	if limit, _ := tw.lastProfile(2); limit != 10 {
		t.Fatalf("setting connector 1 changed connector 2's profile to %v", limit)
	}

	// A fault on one connector leaves the other charging.
	tw.call("StatusNotification", map[string]any{"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted"})
	pollUntil(t, right, "connector 2 faulted", func(st charger.State) bool { return st.Status == charger.StatusError })
	if st := pollUntil(t, left, "connector 1 still charging", func(st charger.State) bool {
		return st.Status == charger.StatusCharging
	}); st.ErrorCode != "" {
		t.Errorf("connector 1 shows connector 2's error: %s", dump(st))
	}
}
