package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
)

// onSet handles `<base>/<charger>/set` (JSON) and `<base>/<charger>/set/<field>`.
func (b *Bridge) onSet(topic string, payload []byte) {
	id, rest, ok := b.splitChargerTopic(topic)
	if !ok || id == "bridge" || id == "site" {
		return
	}
	u := b.unit(id)
	if u == nil {
		b.log.Warn("command for an unknown charger", "topic", topic)
		b.logEvent("warning", fmt.Sprintf("command for unknown charger %q; known chargers: %s", truncate(id, 64), strings.Join(b.chargerIDs(), ", ")),
			map[string]string{"topic": truncate(topic, 200)})
		return
	}
	var (
		cmd Command
		err error
	)
	if rest == "set" {
		cmd, err = ParseSetJSON(payload)
	} else {
		cmd, err = ParseSetField(strings.TrimPrefix(rest, "set/"), payload)
	}
	if err != nil {
		u.reportError(rest, err)
		return
	}
	_ = u.submit(cmd, rest)
}

func (b *Bridge) chargerIDs() []string {
	ids := []string{}
	for _, u := range b.unitList() {
		ids = append(ids, u.id)
	}
	return ids
}

// request is a bridge-level request, answered on `<base>/bridge/response/<action>`.
type request struct {
	Transaction any `json:"transaction,omitempty"`
	// ID names a pending charger (charger_add).
	ID string `json:"id,omitempty"`
	// Name is the charger's name (charger_add: optional new name;
	// charger_remove: the charger).
	Name string `json:"name,omitempty"`
	// Charger adds a charger by hand (charger_add without id).
	Charger *ChargerSpec `json:"charger,omitempty"`
}

// response follows Zigbee2MQTT's request/response shape.
type response struct {
	Status      string `json:"status"`
	Data        any    `json:"data"`
	Error       string `json:"error,omitempty"`
	Transaction any    `json:"transaction,omitempty"`
}

var requestActions = []string{"health_check", "discovered", "charger_add", "charger_remove"}

func (b *Bridge) onRequest(topic string, payload []byte) {
	action := topic[strings.LastIndex(topic, "/")+1:]
	var req request
	resp := response{Status: "ok", Data: map[string]any{}}
	if len(strings.TrimSpace(string(payload))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			resp = response{Status: "error", Data: map[string]any{}, Error: "invalid JSON request: " + err.Error()}
		}
	}
	resp.Transaction = req.Transaction
	if resp.Status == "ok" {
		switch action {
		case "health_check":
			chargers := map[string]bool{}
			for _, u := range b.unitList() {
				_, _, online := u.snapshot()
				chargers[u.id] = online
			}
			resp.Data = map[string]any{"healthy": b.Connected(), "chargers": chargers}
		case "discovered":
			resp.Data = b.Pending()
		case "charger_add":
			var name string
			var err error
			switch {
			case req.ID != "":
				name, err = b.Accept(req.ID, req.Name)
			case req.Charger != nil:
				name, err = b.AddCharger(*req.Charger)
			default:
				err = fmt.Errorf(`charger_add needs "id" (a pending charger from %s/bridge/discovered) or "charger" {name, driver, address}`, b.base)
			}
			if err != nil {
				resp.Status, resp.Error = "error", err.Error()
			} else {
				resp.Data = map[string]any{"name": name}
			}
		case "charger_remove":
			if err := b.RemoveCharger(req.Name); err != nil {
				resp.Status, resp.Error = "error", err.Error()
			} else {
				resp.Data = map[string]any{"name": req.Name}
			}
		default:
			resp.Status, resp.Error = "error", fmt.Sprintf("unknown request %q; known: %s", truncate(action, 64), strings.Join(requestActions, ", "))
		}
	}
	out, _ := json.Marshal(resp)
	b.link.publish(b.base+"/bridge/response/"+action, 1, false, out)
}
