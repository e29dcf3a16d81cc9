package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// builtins are the fingerprinters of the brands protocols.md §18 names.
// They live here, not in the driver packages, because several drivers do
// not exist yet; a driver may move its own into its package later.
func builtins() []Fingerprinter {
	return []Fingerprinter{
		{Driver: "goe", Brand: "go-e", Kind: KindCharger, Port: 80, Order: 10, HTTP: goeIdentify},
		{Driver: "openevse", Brand: "OpenEVSE", Kind: KindCharger, Port: 80, Order: 20, HTTP: openevseIdentify},
		{Driver: "shelly", Brand: "Shelly", Kind: KindMeter, Port: 80, Order: 30, HTTP: shellyIdentify},
		{Driver: "alfen", Brand: "Alfen", Kind: KindCharger, Port: 502, Order: 10, Modbus: alfenIdentify},
	}
}

// goeIdentify asks a go-e Charger (HTTP API v2) for serial, type and
// firmware: GET /api/status?filter=sse,typ,fwv (protocols.md §1). Boxes
// lacking a filtered key answer 400 with the JSON of the others
// (go-eCharger-API-v2 issue #312), so 400 is read too.
func goeIdentify(ctx context.Context, get GetFunc) (charger.Identity, error) {
	code, body, err := get(ctx, "/api/status?filter=sse,typ,fwv")
	if err != nil {
		return charger.Identity{}, err
	}
	if code != http.StatusOK && code != http.StatusBadRequest {
		return charger.Identity{}, fmt.Errorf("%w: /api/status: http %d", ErrNotIdentified, code)
	}
	return parseGoe(body)
}

func parseGoe(body []byte) (charger.Identity, error) {
	v, err := jsonStrings(body, "sse", "typ", "fwv")
	if err != nil {
		return charger.Identity{}, fmt.Errorf("%w: /api/status: %v", ErrNotIdentified, err)
	}
	if v["sse"] == "" {
		return charger.Identity{}, fmt.Errorf("%w: /api/status has no serial (sse)", ErrNotIdentified)
	}
	model := v["typ"]
	if model == "" {
		model = "go-eCharger"
	}
	return charger.Identity{Brand: "go-e", Model: model, Serial: v["sse"], Firmware: v["fwv"]}, nil
}

// openevseIdentify reads GET /config (firmware, version, buildenv) and
// GET /status (macaddress) of an OpenEVSE WiFi gateway (protocols.md §2).
// Its API has no serial number; the Wi-Fi MAC address stands in for it.
func openevseIdentify(ctx context.Context, get GetFunc) (charger.Identity, error) {
	code, body, err := get(ctx, "/config")
	if err != nil {
		return charger.Identity{}, err
	}
	if code != http.StatusOK {
		return charger.Identity{}, fmt.Errorf("%w: /config: http %d", ErrNotIdentified, code)
	}
	id, err := parseOpenEVSEConfig(body)
	if err != nil {
		return charger.Identity{}, err
	}
	code, body, err = get(ctx, "/status")
	if err != nil {
		return charger.Identity{}, err
	}
	if code != http.StatusOK {
		return charger.Identity{}, fmt.Errorf("%w: /status: http %d", ErrNotIdentified, code)
	}
	st, err := jsonStrings(body, "macaddress")
	if err != nil || st["macaddress"] == "" {
		return charger.Identity{}, fmt.Errorf("%w: /status has no macaddress", ErrNotIdentified)
	}
	id.Serial = st["macaddress"]
	return id, nil
}

func parseOpenEVSEConfig(body []byte) (charger.Identity, error) {
	v, err := jsonStrings(body, "firmware", "version", "buildenv")
	if err != nil {
		return charger.Identity{}, fmt.Errorf("%w: /config: %v", ErrNotIdentified, err)
	}
	if v["version"] == "" || v["firmware"] == "" {
		return charger.Identity{}, fmt.Errorf("%w: /config lacks version and firmware", ErrNotIdentified)
	}
	model := "OpenEVSE"
	if v["buildenv"] != "" {
		model += " (" + v["buildenv"] + ")"
	}
	return charger.Identity{Brand: "OpenEVSE", Model: model,
		Firmware: v["version"] + " (EVSE " + v["firmware"] + ")"}, nil
}

// shellyIdentify reads GET /shelly: Gen2+ answer id, mac, model, gen, ver,
// app (Shelly.GetDeviceInfo); Gen1 answer type, mac, fw (protocols.md
// §17). Only energy meters are evbridge's business; other Shelly devices
// (plugs, relays) are not reported.
func shellyIdentify(ctx context.Context, get GetFunc) (charger.Identity, error) {
	code, body, err := get(ctx, "/shelly")
	if err != nil {
		return charger.Identity{}, err
	}
	if code != http.StatusOK {
		return charger.Identity{}, fmt.Errorf("%w: /shelly: http %d", ErrNotIdentified, code)
	}
	return parseShelly(body)
}

func parseShelly(body []byte) (charger.Identity, error) {
	v, err := jsonStrings(body, "mac", "model", "type", "ver", "fw", "app", "gen")
	if err != nil {
		return charger.Identity{}, fmt.Errorf("%w: /shelly: %v", ErrNotIdentified, err)
	}
	model, fw := v["model"], v["ver"]
	if model == "" { // Gen1
		model, fw = v["type"], v["fw"]
	}
	if v["mac"] == "" || model == "" {
		return charger.Identity{}, fmt.Errorf("%w: /shelly lacks mac and model", ErrNotIdentified)
	}
	// Meter models: SPEM-… (Pro EM, Pro 3EM), S3EM-… (3EM-63), SHEM and
	// SHEM-3 (Gen1 EM, 3EM). A heuristic on model codes: VERIFY per model.
	up := strings.ToUpper(model)
	if !strings.Contains(up, "EM-") && !strings.HasPrefix(up, "SHEM") {
		return charger.Identity{}, fmt.Errorf("%w: Shelly %s is not an energy meter", ErrNotIdentified, clean(model))
	}
	if v["app"] != "" {
		model = v["app"] + " (" + model + ")"
	}
	return charger.Identity{Brand: "Shelly", Model: model, Serial: v["mac"], Firmware: fw}, nil
}

// Alfen NG9xx station identification, unit 200, ALF §3.1 (wire
// addresses): name 100 (17 registers), manufacturer 117 (5), Modbus table
// version 122, firmware 123 (17), platform type 140 (17), station serial
// 157 (11). One read of 100..167 covers them without cutting a value.
const (
	alfenUnit      = 200
	alfenIdentAddr = 100
	alfenIdentLen  = 68
)

// alfenIdentify reads the identification block; a device whose
// manufacturer register does not say Alfen is not one.
func alfenIdentify(ctx context.Context, r RegisterReader) (charger.Identity, error) {
	regs, err := r.ReadHolding(ctx, alfenUnit, alfenIdentAddr, alfenIdentLen)
	if err != nil {
		return charger.Identity{}, err
	}
	return parseAlfen(regs)
}

func parseAlfen(regs []uint16) (charger.Identity, error) {
	if len(regs) != alfenIdentLen {
		return charger.Identity{}, fmt.Errorf("%w: %d identification registers, want %d", ErrNotIdentified, len(regs), alfenIdentLen)
	}
	str := func(from, n int) string { return modbusx.DecodeString(regs[from:from+n], modbusx.HighByteFirst) }
	if maker := str(17, 5); !strings.HasPrefix(strings.ToLower(maker), "alfen") {
		return charger.Identity{}, fmt.Errorf("%w: manufacturer %q is not Alfen", ErrNotIdentified, clean(maker))
	}
	id := charger.Identity{Brand: "Alfen", Model: str(40, 17), Serial: str(57, 11), Firmware: str(23, 17)}
	if id.Serial == "" {
		return charger.Identity{}, fmt.Errorf("%w: Alfen station without a serial", ErrNotIdentified)
	}
	return id, nil
}

// maxBody caps every fingerprint reply; identities are small.
const maxBody = 64 << 10

// jsonStrings decodes body as one JSON object and returns the wanted keys
// that hold a string or a number (numbers in their JSON spelling). Keys of
// other types, and keys not asked for, are ignored.
func jsonStrings(body []byte, keys ...string) (map[string]string, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		r, ok := raw[k]
		if !ok || len(r) == 0 {
			continue
		}
		switch r[0] {
		case '"':
			var s string
			if json.Unmarshal(r, &s) == nil {
				out[k] = clean(s)
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if _, err := strconv.ParseFloat(string(r), 64); err == nil {
				out[k] = clean(string(r))
			}
		}
	}
	return out, nil
}
