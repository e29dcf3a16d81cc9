// Package charger is the contract between evbridge's core and its drivers:
// the charger model every driver fills, the one interface every driver
// implements, the optional capabilities the core discovers by interface, and
// the registry drivers add themselves to. It imports nothing of the core
// but the generic bridge/registry, so a driver depends on this package
// alone.
package charger

import (
	"context"
	"errors"
	"time"
)

// IECState is the IEC 61851-1 control-pilot state.
type IECState string

// IEC 61851-1 control-pilot states.
const (
	IECUnknown IECState = ""
	IECA       IECState = "A" // no vehicle
	IECB       IECState = "B" // vehicle connected, not charging
	IECC       IECState = "C" // charging
	IECD       IECState = "D" // charging with ventilation
	IECE       IECState = "E" // no supply / CP short
	IECF       IECState = "F" // EVSE fault
)

// Status is the user-facing charger status: what Home Assistant shows.
type Status string

// User-facing statuses; the order is the enum order published to HA.
const (
	StatusUnknown     Status = "unknown"
	StatusNoVehicle   Status = "no_vehicle"
	StatusConnected   Status = "connected"
	StatusCharging    Status = "charging"
	StatusPaused      Status = "paused"
	StatusComplete    Status = "complete"
	StatusError       Status = "error"
	StatusUnavailable Status = "unavailable"
)

// Statuses lists every Status value, for enum entities and validation.
var Statuses = []Status{StatusUnknown, StatusNoVehicle, StatusConnected, StatusCharging,
	StatusPaused, StatusComplete, StatusError, StatusUnavailable}

// StatusFromIEC derives the user-facing status from the pilot state when a
// device tells nothing finer.
func StatusFromIEC(s IECState) Status {
	switch s {
	case IECA:
		return StatusNoVehicle
	case IECB:
		return StatusConnected
	case IECC, IECD:
		return StatusCharging
	case IECE, IECF:
		return StatusError
	}
	return StatusUnknown
}

// Identity names a device. Serial is what evbridge tracks a charger by when
// its address changes.
type Identity struct {
	Brand    string `json:"brand,omitempty"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	Firmware string `json:"firmware,omitempty"`
}

// State is one reading of a charger. Pointer fields are nil where the
// device does not report the value, so "unknown" never reads as zero.
type State struct {
	IEC    IECState `json:"iec_state"`
	Status Status   `json:"status"`
	// Enabled is whether the charger lets the car charge.
	Enabled *bool `json:"enabled,omitempty"`
	// CurrentLimit is the current offered to the car, A.
	CurrentLimit *float64 `json:"current_limit,omitempty"`
	// Power is the actual charging power, W.
	Power *float64 `json:"power,omitempty"`
	// Currents and Voltages are per phase L1..L3, A and V.
	Currents []float64 `json:"currents,omitempty"`
	Voltages []float64 `json:"voltages,omitempty"`
	// Phases is the number of phases in use or selected (1 or 3).
	Phases *int `json:"phases,omitempty"`
	// SessionEnergy is the energy of the current session, kWh.
	SessionEnergy *float64 `json:"session_energy,omitempty"`
	// EnergyTotal is the lifetime energy, kWh; never decreases.
	EnergyTotal *float64 `json:"energy_total,omitempty"`
	// ErrorCode and ErrorText come from the device (not from evbridge).
	ErrorCode string `json:"error_code,omitempty"`
	ErrorText string `json:"error_text,omitempty"`
	// RSSI is the device's Wi-Fi signal, dBm.
	RSSI *float64 `json:"rssi,omitempty"`
	// Temperature is the device's internal temperature, °C.
	Temperature *float64 `json:"temperature,omitempty"`
	// VehicleSoC is the car's battery state of charge, %, where the
	// charger learns it (OCPP SoC measurand, DC chargers); nil otherwise.
	VehicleSoC *float64 `json:"vehicle_soc,omitempty"`
	Identity
}

// Settings is what the core tells a driver about the charger it drives.
type Settings struct {
	// Name is the stable charger id used in topics.
	Name string
	// Address is host or host:port as configured.
	Address string
	// Timeout bounds one device request.
	Timeout time.Duration
	// MaxCurrent is the configured ceiling, A. The core never asks for
	// more; a driver may use it to clamp its own defaults.
	MaxCurrent float64
}

// Charger is the one interface every driver implements.
type Charger interface {
	// Poll reads the device's state.
	Poll(ctx context.Context) (State, error)
}

// CurrentSetter is a charger whose offered current can be set, in amperes.
type CurrentSetter interface {
	SetCurrent(ctx context.Context, amps float64) error
	// CurrentRange is the device's accepted range and step, A.
	CurrentRange() (min, max, step float64)
}

// Enabler is a charger that can be allowed or stopped from charging.
type Enabler interface {
	SetEnabled(ctx context.Context, enabled bool) error
}

// PhaseSwitcher is a charger that can switch between 1 and 3 phases.
type PhaseSwitcher interface {
	SetPhases(ctx context.Context, phases int) error
}

// Resetter is a charger that can be told to restart (an HA button).
type Resetter interface {
	Reset(ctx context.Context) error
}

// Watchdogged is a charger that falls back to a safe current unless its
// setpoint is refreshed; the core calls Refresh at least every
// RefreshInterval.
type Watchdogged interface {
	RefreshInterval() time.Duration
	Refresh(ctx context.Context) error
}

// Closer releases a driver's connections.
type Closer interface {
	Close() error
}

// Sentinel errors drivers return so the core can tell what went wrong.
var (
	// ErrNotSupported: the device cannot do what was asked.
	ErrNotSupported = errors.New("not supported by this charger")
	// ErrRejected: the device refused a valid-looking request.
	ErrRejected = errors.New("rejected by the charger")
	// ErrBadReply: the device answered something that is not its protocol.
	ErrBadReply = errors.New("malformed reply from the charger")
)

// Ptr returns a pointer to v; drivers use it to fill State.
func Ptr[T any](v T) *T { return &v }
