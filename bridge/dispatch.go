package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
)

// onSet handles `<base>/<charger>/set` (JSON) and `<base>/<charger>/set/<field>`.
func (b *Bridge) onSet(topic string, payload []byte) {
	id, rest, ok := b.splitChargerTopic(topic)
	if !ok || id == "bridge" {
		return
	}
	u := b.byID[id]
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
	ids := make([]string, 0, len(b.units))
	for _, u := range b.units {
		ids = append(ids, u.id)
	}
	return ids
}

// request is a bridge-level request, answered on `<base>/bridge/response/<action>`.
type request struct {
	Transaction any `json:"transaction,omitempty"`
}

// response follows Zigbee2MQTT's request/response shape.
type response struct {
	Status      string `json:"status"`
	Data        any    `json:"data"`
	Error       string `json:"error,omitempty"`
	Transaction any    `json:"transaction,omitempty"`
}

func (b *Bridge) onRequest(topic string, payload []byte) {
	action := topic[strings.LastIndex(topic, "/")+1:]
	var req request
	resp := response{Status: "ok", Data: map[string]any{}}
	if len(strings.TrimSpace(string(payload))) > 0 {
		if err := json.Unmarshal(payload, &req); err != nil {
			resp = response{Status: "error", Data: map[string]any{}, Error: "invalid JSON request: " + err.Error()}
		}
	}
	resp.Transaction = req.Transaction
	if resp.Status == "ok" {
		switch action {
		case "health_check":
			chargers := map[string]bool{}
			for _, u := range b.units {
				_, _, online := u.snapshot()
				chargers[u.id] = online
			}
			resp.Data = map[string]any{"healthy": b.Connected(), "chargers": chargers}
		default:
			resp.Status, resp.Error = "error", fmt.Sprintf("unknown request %q; known: health_check", truncate(action, 64))
		}
	}
	out, _ := json.Marshal(resp)
	b.link.publish(b.base+"/bridge/response/"+action, 1, false, out)
}
