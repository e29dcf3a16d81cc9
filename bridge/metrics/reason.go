package metrics

import (
	"strings"
	"unicode"

	"github.com/evbridge/evbridge/bridge/solar"
)

// ReasonCode maps a controller reason as the bridge reports it (the
// human-readable solar.Reason.String, e.g. "pv: surplus 2.3 kW → 10 A 3p")
// back to its stable solar.Code ("charging"), so a metric label has a
// bounded set of values. Text it does not recognise is "other".
func ReasonCode(reason string) string {
	fixed := []struct {
		prefix string
		code   solar.Code
	}{
		{"charger offline:", solar.CodeOffline},
		{"settings:", solar.CodeSettings},
		{"meter lost", solar.CodeMeterLost},
		{"meter:", solar.CodeMeterHold},
		{"site limit:", solar.CodeSiteLimit},
	}
	switch reason {
	case "off":
		return string(solar.CodeOff)
	case "no vehicle":
		return string(solar.CodeNoVehicle)
	}
	for _, f := range fixed {
		if strings.HasPrefix(reason, f.prefix) {
			return string(f.code)
		}
	}
	mode, rest, ok := strings.Cut(reason, ": ")
	if !ok || !solar.Mode(mode).Valid() {
		return "other"
	}
	byPrefix := []struct {
		prefix string
		code   solar.Code
	}{
		{"start in ", solar.CodeStartDelay},
		{"stop in ", solar.CodeStopDelay},
		{"contactor rest", solar.CodeMinOff},
		{"minimum on time", solar.CodeMinOn},
		{"stopped, ", solar.CodeStopped},
		{"switched to ", solar.CodePhaseSwitch},
	}
	for _, p := range byPrefix {
		if strings.HasPrefix(rest, p.prefix) {
			return string(p.code)
		}
	}
	switch {
	case strings.HasPrefix(rest, "surplus "):
		head, _, _ := strings.Cut(rest, " (")
		switch {
		case strings.Contains(head, ", minimum "):
			return string(solar.CodeMinimum)
		case strings.Contains(head, ", needs "):
			return string(solar.CodeWaiting)
		case strings.Contains(head, " → "):
			return string(solar.CodeCharging)
		}
	case strings.Contains(rest, "-phase in "):
		return string(solar.CodePhaseDelay)
	case strings.Contains(rest, " kWh left by "):
		return string(solar.CodePlan)
	case rest != "" && unicode.IsDigit(rune(rest[0])):
		return string(solar.CodeNow)
	}
	// Codes without a rendering of their own print as the code.
	word, _, _ := strings.Cut(rest, ",")
	if isCode(word) {
		return word
	}
	return "other"
}

func isCode(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}
