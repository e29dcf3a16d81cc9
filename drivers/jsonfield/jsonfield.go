// Package jsonfield holds the small JSON checks the HTTP charger drivers
// (go-e, OpenEVSE, Tesla) share: splitting a reply into one object's keys
// with a charger.ErrBadReply that says what came instead (HTML from a
// captive portal, an empty body, truncated JSON), quoting the start of a
// reply for an error message, and telling a plausible device string.
//
// The typed field readers stay in the drivers: each maps absent, null and
// wrong-typed keys differently (required keys, false for "no sensor",
// error wording its tests pin), so they are not the same logic.
package jsonfield

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Object checks that body is one JSON object and splits it into keys.
// repair, when not nil, may fix known firmware slips in the body before
// it is decoded; the checks before it see the body as sent.
func Object(body []byte, repair func([]byte) []byte) (map[string]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, fmt.Errorf("%w: empty reply", charger.ErrBadReply)
	case LooksHTML(body):
		return nil, fmt.Errorf("%w: got HTML, not JSON", charger.ErrBadReply)
	case body[0] != '{':
		return nil, fmt.Errorf("%w: not a JSON object: %s", charger.ErrBadReply, Snippet(body))
	}
	if repair != nil {
		body = repair(body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: bad JSON: %v", charger.ErrBadReply, err)
	}
	return m, nil
}

// LooksHTML tells a web page (a login or captive portal) from JSON.
func LooksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}

// Snippet quotes the start of a reply for an error message: enough to
// recognise it, never a whole page in a log line.
func Snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty)"
	}
	s := string(b)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// Plain reports whether s is a string a device plausibly sends: at most
// maxLen bytes of valid UTF-8 without control characters. Anything else
// is a broken reply, and would garble logs and MQTT payloads.
func Plain(s string, maxLen int) bool {
	return len(s) <= maxLen && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
