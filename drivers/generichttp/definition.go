package generichttp

import (
	"time"
)

// Options are the generic driver's settings: a charger definition written
// out in the options block, or the name of one shipped with evbridge.
type Options struct {
	// Builtin names a definition shipped with evbridge, e.g. "goe" (the
	// files in drivers/generichttp/examples). With it, only headers may be
	// added here; they are sent as well as the definition's own.
	Builtin string `yaml:"builtin"`
	// Definition describes the charger when Builtin is empty.
	Definition `yaml:",inline"`
}

// Definition describes a charger's HTTP/JSON API.
type Definition struct {
	// Brand and Model name the charger where its replies do not.
	Brand string `yaml:"brand"`
	Model string `yaml:"model"`
	// Scheme is http (the default) or https.
	Scheme string `yaml:"scheme"`
	// Headers are sent with every request, e.g. Authorization.
	Headers map[string]string `yaml:"headers"`
	// Requests are the reads of every poll, by name; fields say which
	// reply they read with `from`.
	Requests map[string]*Request `yaml:"requests"`
	// State maps the replies onto the charger's state.
	State StateFields `yaml:"state"`
	// CurrentRange is the current the charger accepts, in amperes; needed
	// with commands.set_current.
	CurrentRange *Range `yaml:"current_range"`
	// Commands are the writes, each a request whose path, headers and
	// body are templates over the command's {{.Value}}.
	Commands Commands `yaml:"commands"`
	// KeepAlive, when set, is a request sent every interval so that a
	// charger with a communication watchdog keeps the setpoint.
	KeepAlive *KeepAlive `yaml:"keep_alive"`
}

// Request is one HTTP request.
type Request struct {
	// Method is GET (the default), POST, PUT or PATCH.
	Method string `yaml:"method"`
	// Path is the path and query, starting with "/".
	Path string `yaml:"path"`
	// Headers are sent with this request only.
	Headers map[string]string `yaml:"headers"`
	// Body is sent as is (reads) or rendered (commands).
	Body string `yaml:"body"`
	// OKStatus lists the HTTP statuses whose reply is used; the default
	// is any 2xx. Some chargers answer 400 with a usable body.
	OKStatus []int `yaml:"ok_status"`
	// MinInterval: a read is not sent again sooner; polls in between use
	// the last reply. It suits chargers that limit how often they are
	// asked.
	MinInterval time.Duration `yaml:"min_interval"`
}

// StateFields say where each part of the state is. Only status is
// required; a field left out is shown as unknown.
type StateFields struct {
	// Status gives the IEC 61851 state (A to F), through map cases whose
	// value is the letter and, optionally, status is the user-facing
	// status (connected, paused, complete...).
	Status        *Field   `yaml:"status"`
	Enabled       *Field   `yaml:"enabled"`       // true/false
	CurrentLimit  *Field   `yaml:"current_limit"` // A
	MaxCurrent    *Field   `yaml:"max_current"`   // A; caps current_range
	Power         *Field   `yaml:"power"`         // W
	Currents      []*Field `yaml:"currents"`      // A, L1..L3
	Voltages      []*Field `yaml:"voltages"`      // V, L1..L3
	Phases        *Field   `yaml:"phases"`        // 1 or 3
	SessionEnergy *Field   `yaml:"session_energy"`
	EnergyTotal   *Field   `yaml:"energy_total"` // kWh, both
	ErrorCode     *Field   `yaml:"error_code"`   // non-empty: status error
	ErrorText     *Field   `yaml:"error_text"`
	RSSI          *Field   `yaml:"rssi"`        // dBm
	Temperature   *Field   `yaml:"temperature"` // °C
	Serial        *Field   `yaml:"serial"`
	ModelName     *Field   `yaml:"model"`
	Firmware      *Field   `yaml:"firmware"`
}

// Field is where one value is and how it reads.
type Field struct {
	// From names the request whose reply holds the value; it may be left
	// out when there is one request.
	From string `yaml:"from"`
	// Path is a JSON path into the reply: key, a.b, list[2], ["a key"].
	Path string `yaml:"path"`
	// Template, instead of Path, renders the value with Go text/template
	// over the reply: {{.car}}, {{get "nrg[11]"}}, {{max .tma}}.
	Template string `yaml:"template"`
	// Scale multiplies a number (after Map): 0.001 turns Wh into kWh.
	Scale *float64 `yaml:"scale"`
	// Map translates the value's text, case by case; the first case whose
	// match fits wins. A value no case fits is a bad reply.
	Map []Case `yaml:"map"`
	// Optional: a missing or null value is unknown rather than a bad reply.
	Optional bool `yaml:"optional"`
}

// Case is one line of a value table.
type Case struct {
	// Match is the value's text; * matches any text (also across "/"),
	// ? any one character.
	Match string `yaml:"match"`
	// Value replaces it: an IEC letter for status, true/false for
	// enabled, a number or a text for the others.
	Value string `yaml:"value"`
	// Status is the user-facing status, in status cases only.
	Status string `yaml:"status"`
}

// Range is the current a charger accepts.
type Range struct {
	Min  float64 `yaml:"min"`
	Max  float64 `yaml:"max"`
	Step float64 `yaml:"step"`
}

// Commands are the writes a charger takes; each left out is a capability
// the charger does not offer.
type Commands struct {
	// SetCurrent: {{.Value}} is the current in A, on current_range's grid.
	SetCurrent *Command `yaml:"set_current"`
	// Enable: {{.Value}} is true or false.
	Enable *Command `yaml:"enable"`
	// SetPhases: {{.Value}} is 1 or 3.
	SetPhases *Command `yaml:"set_phases"`
}

// Command is a write request and how its reply says it worked.
type Command struct {
	Request `yaml:",inline"`
	// Check, when set, reads the reply as JSON: the value at path must
	// read equals. Otherwise any status in ok_status (2xx) is success.
	Check *Check `yaml:"check"`
}

// Check is a reply test.
type Check struct {
	Path   string `yaml:"path"`
	Equals string `yaml:"equals"`
}

// KeepAlive is a request repeated on a timer.
type KeepAlive struct {
	// Interval between two keep-alive requests, at least 1s.
	Interval time.Duration `yaml:"interval"`
	Request  `yaml:",inline"`
}
