package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evbridge/evbridge/bridge/config"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Command is one requested change to a charger. Nil fields are not asked
// for. A JSON `set` message can carry several fields at once.
type Command struct {
	CurrentLimit *float64 `json:"current_limit,omitempty"`
	Enabled      *bool    `json:"enabled,omitempty"`
	Phases       *int     `json:"phases,omitempty"`
	// Mode and the plan settings go to the solar controller, not to the
	// device.
	Mode          *string  `json:"mode,omitempty"`
	PlanEnergy    *float64 `json:"plan_energy,omitempty"`
	PlanDeparture *string  `json:"plan_departure,omitempty"`
	// Reset restarts the charger (Home Assistant's button sends PRESS).
	Reset bool `json:"reset,omitempty"`
}

// Empty reports whether the command asks for nothing.
func (c Command) Empty() bool { return !c.device() && !c.control() }

// device reports whether c asks anything of the charger itself.
func (c Command) device() bool {
	return c.CurrentLimit != nil || c.Enabled != nil || c.Phases != nil || c.Reset
}

// control reports whether c changes the controller's settings.
func (c Command) control() bool {
	return c.Mode != nil || c.PlanEnergy != nil || c.PlanDeparture != nil
}

// merge overlays newer fields onto c: the latest value of each field wins.
func (c *Command) merge(newer Command) {
	if newer.CurrentLimit != nil {
		c.CurrentLimit = newer.CurrentLimit
	}
	if newer.Enabled != nil {
		c.Enabled = newer.Enabled
	}
	if newer.Phases != nil {
		c.Phases = newer.Phases
	}
	if newer.Mode != nil {
		c.Mode = newer.Mode
	}
	c.Reset = c.Reset || newer.Reset
	if newer.PlanEnergy != nil {
		c.PlanEnergy = newer.PlanEnergy
	}
	if newer.PlanDeparture != nil {
		c.PlanDeparture = newer.PlanDeparture
	}
}

// commandFields are the keys a `set` message may carry, in the order they
// are applied: phases first (a switch pauses charging), then the current,
// then enabled so that enabling happens at the new current.
var commandFields = []string{"phases", "current_limit", "enabled", "mode", "plan_energy", "plan_departure", "reset"}

// maxCommandBytes bounds a command payload; anything larger is not a command.
const maxCommandBytes = 4096

// ParseSetJSON parses the payload of `<base>/<charger>/set`: a JSON object
// whose keys are state keys. Unknown keys, wrong types and bad JSON are
// errors naming what was wrong.
func ParseSetJSON(payload []byte) (Command, error) {
	var cmd Command
	if len(payload) > maxCommandBytes {
		return cmd, fmt.Errorf("payload is %d bytes; a command is at most %d", len(payload), maxCommandBytes)
	}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return cmd, errors.New("empty payload: expected a JSON object such as {\"current_limit\":10}")
	}
	if trimmed[0] != '{' {
		return cmd, fmt.Errorf("expected a JSON object such as {\"current_limit\":10}, got %s", preview(trimmed))
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return cmd, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return cmd, errors.New("invalid JSON: data after the object")
	}
	if len(raw) == 0 {
		return cmd, fmt.Errorf("empty object: expected one of %s", strings.Join(commandFields, ", "))
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if err := cmd.setJSON(k, raw[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return cmd, errors.Join(errs...)
}

// ParseSetField parses the plain payload of `<base>/<charger>/set/<field>`,
// as Home Assistant number, switch and select entities send it.
func ParseSetField(field string, payload []byte) (Command, error) {
	var cmd Command
	if len(payload) > maxCommandBytes {
		return cmd, fmt.Errorf("%s: payload is %d bytes; a value is at most %d", field, len(payload), maxCommandBytes)
	}
	s := strings.TrimSpace(string(payload))
	switch field {
	case "current_limit":
		v, err := parseNumber(s)
		if err != nil {
			return cmd, fmt.Errorf("current_limit: %w", err)
		}
		cmd.CurrentLimit = &v
	case "enabled":
		b, err := parseBool(s)
		if err != nil {
			return cmd, fmt.Errorf("enabled: %w", err)
		}
		cmd.Enabled = &b
	case "phases":
		v, err := parseNumber(s)
		if err != nil {
			return cmd, fmt.Errorf("phases: %w", err)
		}
		p, err := phasesValue(v)
		if err != nil {
			return cmd, err
		}
		cmd.Phases = &p
	case "reset":
		if s != "PRESS" && s != "" {
			return cmd, fmt.Errorf("reset: expected PRESS, got %q", truncate(s, 40))
		}
		cmd.Reset = true
	case "mode", "plan_departure":
		if err := cmd.setText(field, s); err != nil {
			return cmd, err
		}
	case "plan_energy":
		v, err := parseNumber(s)
		if err != nil {
			return cmd, fmt.Errorf("plan_energy: %w", err)
		}
		if err := cmd.setPlanEnergy(v); err != nil {
			return cmd, err
		}
	default:
		return cmd, unknownField(field)
	}
	return cmd, nil
}

// modes are the charging modes a `mode` command may name.
var modes = config.ChargerModes

func (c *Command) setText(field, s string) error {
	switch field {
	case "mode":
		for _, m := range modes {
			if s == m {
				c.Mode = &s
				return nil
			}
		}
		return fmt.Errorf("mode: expected one of %s, got %q", strings.Join(modes, ", "), truncate(s, 40))
	case "plan_departure":
		if _, err := time.Parse("15:04", s); err != nil || len(s) != 5 {
			return fmt.Errorf("plan_departure: expected a time of day as HH:MM, got %q", truncate(s, 40))
		}
		c.PlanDeparture = &s
		return nil
	}
	return unknownField(field)
}

func (c *Command) setPlanEnergy(v float64) error {
	if v < 0 || v > 150 {
		return fmt.Errorf("plan_energy: expected 0 to 150 kWh, got %v", v)
	}
	c.PlanEnergy = &v
	return nil
}

func (c *Command) setJSON(key string, raw json.RawMessage) error {
	s := string(bytes.TrimSpace(raw))
	switch key {
	case "current_limit":
		// Accept a JSON number, or a numeric string as some automation tools send.
		v, err := parseNumber(strings.Trim(s, `"`))
		if err != nil || s == "null" {
			return fmt.Errorf("current_limit: expected a number of amperes, got %s", preview(raw))
		}
		c.CurrentLimit = &v
	case "enabled":
		b, err := parseBool(strings.Trim(s, `"`))
		if err != nil {
			return fmt.Errorf("enabled: expected true or false, got %s", preview(raw))
		}
		c.Enabled = &b
	case "phases":
		v, err := parseNumber(strings.Trim(s, `"`))
		if err != nil {
			return fmt.Errorf("phases: expected 1 or 3, got %s", preview(raw))
		}
		p, err := phasesValue(v)
		if err != nil {
			return err
		}
		c.Phases = &p
	case "mode", "plan_departure":
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return fmt.Errorf("%s: expected a string, got %s", key, preview(raw))
		}
		return c.setText(key, str)
	case "reset":
		if s != "true" {
			return fmt.Errorf("reset: expected true, got %s", preview(raw))
		}
		c.Reset = true
	case "plan_energy":
		v, err := parseNumber(strings.Trim(s, `"`))
		if err != nil || s == "null" {
			return fmt.Errorf("plan_energy: expected a number of kWh, got %s", preview(raw))
		}
		return c.setPlanEnergy(v)
	default:
		return unknownField(key)
	}
	return nil
}

func unknownField(k string) error {
	return fmt.Errorf("unknown field %q: settable fields are %s", truncate(k, 40), strings.Join(commandFields, ", "))
}

func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a number, got %q", truncate(s, 40))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("expected a finite number, got %q", truncate(s, 40))
	}
	return v, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "1", "enable", "enabled":
		return true, nil
	case "off", "false", "0", "disable", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("expected ON/OFF or true/false, got %q", truncate(s, 40))
}

func phasesValue(v float64) (int, error) {
	if v != 1 && v != 3 {
		return 0, fmt.Errorf("phases: expected 1 or 3, got %v", v)
	}
	return int(v), nil
}

func preview(b []byte) string {
	return strconv.Quote(truncate(string(b), 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
