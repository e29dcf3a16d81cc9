package genericmodbus

import "time"

// Options is a charger definition: the `options:` block of a
// generic_modbus charger. Only status is required; every other part adds
// the reading or the control it describes. examples/*.yaml are complete
// definitions.
type Options struct {
	// Connection says how to talk to the device.
	Connection Connection `yaml:"connection"`
	// Identity names the device in Home Assistant.
	Identity Identity `yaml:"identity"`
	// Status maps the device's status register to the IEC 61851 state.
	Status StatusMap `yaml:"status"`
	// Measurements are the values read on every poll.
	Measurements Measurements `yaml:"measurements"`
	// Errors are conditions that put an error code on the state, in
	// order: the first that holds wins.
	Errors []ErrorRule `yaml:"errors"`
	// SetCurrent is the register the offered current is written to.
	SetCurrent *SetCurrent `yaml:"set_current"`
	// Enable is how charging is allowed and stopped.
	Enable *Enable `yaml:"enable"`
	// Phases is the 1/3-phase register.
	Phases *Phases `yaml:"phases"`
	// Watchdog is the keep-alive the device needs to keep the setpoint.
	Watchdog *Watchdog `yaml:"watchdog"`
}

// DefaultOptions returns an empty definition on unit 1.
func DefaultOptions() Options {
	return Options{Connection: Connection{UnitID: 1, MaxRegisters: 125, SingleWrite: 6}}
}

// Connection says how requests are made.
type Connection struct {
	// UnitID is the Modbus unit (slave) id of every register that does
	// not name its own (default 1).
	UnitID int `yaml:"unit_id"`
	// Framing is tcp (default) or rtu_over_tcp for a charger behind a
	// transparent RS485 gateway.
	Framing Framing `yaml:"framing"`
	// MaxRegisters is the most registers one read may hold (1..125,
	// default 125).
	MaxRegisters int `yaml:"max_registers"`
	// MaxGap is the most unneeded registers one read may include to join
	// two wanted ones (default 0). Only raise it over registers the
	// device answers.
	MaxGap int `yaml:"max_gap"`
	// Boundaries are addresses no read may cross (a read holds register
	// A-1 or A, never both): the starts and ends of the device's blocks.
	Boundaries []int `yaml:"boundaries"`
	// SingleWrite is the function code for a one-register write: 6
	// (default) or 16 for devices that accept only "write multiple".
	SingleWrite int `yaml:"single_write_function"`
}

// Register locates and types one value.
type Register struct {
	// Unit overrides the connection's unit id for this register.
	Unit int `yaml:"unit"`
	// Table is holding (default) or input.
	Table Table `yaml:"table"`
	// Address is the register's wire (PDU) address, 0..65535: what the
	// document calls 40001 is address 0.
	Address *int `yaml:"address"`
	// Type is u16, s16, u32, s32, u64, s64, float32, float64 or string.
	Type Type `yaml:"type"`
	// Length is a string's length in registers (two characters each).
	Length int `yaml:"length"`
	// WordOrder of a 32/64-bit value: high_first (default) or low_first.
	WordOrder Order `yaml:"word_order"`
	// ByteOrder of a string's characters: high_first (default) or
	// low_first.
	ByteOrder Order `yaml:"byte_order"`
	// Multiplier and Exponent scale a number to the unit evbridge uses
	// (A, V, W, kWh, °C, dBm): value × Multiplier × 10^Exponent. A
	// register in Wh is read with multiplier 0.001; one in 0.1 A steps
	// with exponent -1.
	Multiplier *float64 `yaml:"multiplier"`
	Exponent   int      `yaml:"exponent"`
	// Unavailable lists raw values that mean "not available", such as
	// 65535 (0xFFFF) on many devices.
	Unavailable []string `yaml:"unavailable"`
}

// Identity names the device.
type Identity struct {
	// Brand and Model are fixed names; ModelRegister, when set, is read
	// for the model instead.
	Brand         string    `yaml:"brand"`
	Model         string    `yaml:"model"`
	ModelRegister *Register `yaml:"model_register"`
	// Serial and Firmware registers (strings or numbers).
	Serial   *Register `yaml:"serial"`
	Firmware *Register `yaml:"firmware"`
	// Refresh is how often the identity registers are read again (default
	// 1h); they are read on the first poll and after a failed one.
	Refresh time.Duration `yaml:"refresh"`
}

// StatusMap maps the status register's values to states.
type StatusMap struct {
	// Register holds the device's status (number or string).
	Register *Register `yaml:"register"`
	// Values lists every value the device reports.
	Values []StatusValue `yaml:"values"`
}

// StatusValue is one value of the status register.
type StatusValue struct {
	// Value is the device's value: a number (decimal or 0x hex) for a
	// numeric register, the text for a string one.
	Value string `yaml:"value"`
	// IEC is the pilot state A..F the value means; it may be left out for
	// a value that is no pilot state (an outlet disabled), if Status is set.
	IEC IEC `yaml:"iec"`
	// Status is the user-facing status; by default derived from IEC.
	Status Status `yaml:"status"`
	// Plugged says whether a car is plugged in, for the session energy;
	// by default yes for B, C and D, no for A and E, unchanged for F.
	Plugged *bool `yaml:"plugged"`
	// ErrorCode and ErrorText, when set, mark the value as an error.
	ErrorCode string `yaml:"error_code"`
	ErrorText string `yaml:"error_text"`
}

// Measurements are the numeric readings; all optional.
type Measurements struct {
	// Power is the charging power, W.
	Power *Register `yaml:"power"`
	// CurrentLimit is the current the charger offers the car, A.
	CurrentLimit *Register `yaml:"current_limit"`
	// Currents and Voltages are L1..L3, A and V (1 to 3 registers); the
	// list is cut at the first unavailable one.
	Currents []Register `yaml:"currents"`
	Voltages []Register `yaml:"voltages"`
	// EnergyTotal is the lifetime energy, kWh.
	EnergyTotal *Register `yaml:"energy_total"`
	// SessionEnergy is the session's energy, kWh. Without it the session
	// is counted from EnergyTotal since the car was plugged in.
	SessionEnergy *Register `yaml:"session_energy"`
	// Temperature is the device's temperature, °C.
	Temperature *Register `yaml:"temperature"`
	// RSSI is the Wi-Fi signal, dBm.
	RSSI *Register `yaml:"rssi"`
	// Enabled tells whether the charger lets the car charge.
	Enabled *Condition `yaml:"enabled"`
	// PhasesFromCurrents, for chargers without a phases register, counts
	// the phases drawing at least 1 A while charging (1 or 3; else
	// unknown).
	PhasesFromCurrents bool `yaml:"phases_from_currents"`
}

// Condition is a register and a test of its value; exactly one of
// Values, NotValues, AtLeast and Mask is set.
type Condition struct {
	Register `yaml:",inline"`
	// Values: holds when the raw value is one of these.
	Values []string `yaml:"values"`
	// NotValues: holds when the raw value is none of these.
	NotValues []string `yaml:"not_values"`
	// AtLeast: holds when the scaled value is at least this.
	AtLeast *float64 `yaml:"at_least"`
	// Mask: holds when any of these bits is set (integer types).
	Mask uint64 `yaml:"mask"`
}

// ErrorRule puts an error on the state while its condition holds.
type ErrorRule struct {
	Condition `yaml:",inline"`
	// Code and Text are published; "{value}" in them is replaced by the
	// raw value.
	Code string `yaml:"code"`
	Text string `yaml:"text"`
	// Status, when set, replaces the status (e.g. unavailable).
	Status Status `yaml:"status"`
}

// SetCurrent is the current setpoint register.
type SetCurrent struct {
	// Register is written in amperes (after its scaling).
	Register Register `yaml:"register"`
	// Min, Max and Step are the range the device accepts, A (defaults 6,
	// 32 and 1).
	Min  float64 `yaml:"min"`
	Max  float64 `yaml:"max"`
	Step float64 `yaml:"step"`
	// Adopt reads the register back and, at start, adopts a setpoint the
	// device already holds, so that the watchdog keeps it alive instead
	// of writing nothing until the first command.
	Adopt bool `yaml:"adopt"`
	// AdoptWhen, when set, adopts only while this condition holds (such
	// as "the device still uses the setpoint").
	AdoptWhen *Condition `yaml:"adopt_when"`
}

// Enable is how charging is allowed and stopped.
type Enable struct {
	// Mode is register (write On/Off to Register) or current_zero (write
	// 0 A to the current register to stop, the last current to allow).
	Mode EnableMode `yaml:"mode"`
	// Register, On and Off are raw values for mode register.
	Register *Register `yaml:"register"`
	On       *float64  `yaml:"on"`
	Off      *float64  `yaml:"off"`
}

// Phases is the 1/3-phase register.
type Phases struct {
	// Register holds the phases; One and Three are its raw values.
	Register Register `yaml:"register"`
	One      *float64 `yaml:"one"`
	Three    *float64 `yaml:"three"`
	// Switching offers 1/3-phase switching; without it the register is
	// only read.
	Switching bool `yaml:"switching"`
}

// Watchdog keeps the device from falling back to its safe current.
type Watchdog struct {
	// Mode is rewrite_setpoint or write_value.
	Mode WatchdogMode `yaml:"mode"`
	// Period is how often it is refreshed: well inside the device's
	// timeout (a third of it is usual).
	Period time.Duration `yaml:"period"`
	// Register and Value are what write_value writes.
	Register *Register `yaml:"register"`
	Value    *float64  `yaml:"value"`
}
