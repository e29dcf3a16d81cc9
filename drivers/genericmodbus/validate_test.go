package genericmodbus

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func reg(addr int, t string) Register {
	r := Register{Address: &addr}
	if err := r.Type.UnmarshalText([]byte(t)); err != nil {
		panic(err)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// validDefinition is small but uses every part.
func validDefinition() Options {
	o := DefaultOptions()
	o.Status = StatusMap{Register: ptr(reg(100, "u16")), Values: []StatusValue{
		{Value: "0", IEC: "A"}, {Value: "1", IEC: "B"}, {Value: "0x2", IEC: "C"},
	}}
	o.Measurements.Power = ptr(reg(110, "float32"))
	o.Measurements.CurrentLimit = ptr(reg(112, "u16"))
	o.Measurements.Enabled = &Condition{Register: reg(112, "u16"), AtLeast: ptr(6.0)}
	o.Measurements.Currents = []Register{reg(114, "s32"), reg(116, "s32")}
	o.Errors = []ErrorRule{{Condition: Condition{Register: reg(101, "u16"), NotValues: []string{"0"}}, Code: "E{value}"}}
	o.SetCurrent = &SetCurrent{Register: reg(200, "u16"), Min: 6, Max: 16, Step: 1}
	o.Enable = &Enable{Mode: EnableRegister, Register: ptr(reg(201, "u16")), On: ptr(1.0), Off: ptr(0.0)}
	o.Phases = &Phases{Register: reg(202, "u16"), One: ptr(1.0), Three: ptr(3.0), Switching: true}
	o.Watchdog = &Watchdog{Mode: WatchdogWrite, Period: 10 * time.Second, Register: ptr(reg(203, "u16")), Value: ptr(1.0)}
	return o
}

func TestValidDefinition(t *testing.T) {
	o := validDefinition()
	o.Connection.MaxGap = 10
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	d, _ := compile(&o)
	// 100..117 (status, error, power, limit, currents) and 202 (phases).
	if got := d.polls[1].Len(); got != 2 {
		t.Fatalf("planned %d reads, want 2: %v", got, d.polls[1].Requests())
	}
}

// TestInvalidDefinitions: each bad definition gets an error naming its
// key path and saying what is wrong.
func TestInvalidDefinitions(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(*Options)
	}{
		{"no status", "status.register: is required", func(o *Options) { o.Status.Register = nil }},
		{"no status values", "status.values: is required", func(o *Options) { o.Status.Values = nil }},
		{"status value missing", "status.values[0].value: is required", func(o *Options) { o.Status.Values[0].Value = "" }},
		{"status iec missing", "status.values[1].iec: is required (A..F), or status", func(o *Options) { o.Status.Values[1].IEC = "" }},
		{"status duplicate", `status.values[2].value: "0x0" is already listed at status.values[0]`, func(o *Options) { o.Status.Values[2].Value = "0x0" }},
		{"status not a number", `status.values[0].value: "B1" is not a whole number that fits u16`, func(o *Options) { o.Status.Values[0].Value = "B1" }},
		{"status too large", `"70000" is not a whole number that fits u16`, func(o *Options) { o.Status.Values[0].Value = "70000" }},
		{"status text too long", `"ABCDE" is longer than the 4 characters`, func(o *Options) {
			o.Status.Register = &Register{Address: ptr(100), Type: Type(9), Length: 2}
			o.Status.Values = []StatusValue{{Value: "ABCDE", IEC: "A"}}
		}},
		{"no address", "measurements.power.address: is required", func(o *Options) { o.Measurements.Power.Address = nil }},
		{"address too large", "measurements.power.address: 70000 is outside 0..65535", func(o *Options) { o.Measurements.Power.Address = ptr(70000) }},
		{"no type", "measurements.power.type: is required (one of u16, s16", func(o *Options) { o.Measurements.Power.Type = 0 }},
		{"string power", "measurements.power.type: a string cannot hold this value", func(o *Options) { *o.Measurements.Power = reg(110, "string") }},
		{"string without length", "status.register.length: a string needs its length in registers, 1..125", func(o *Options) { *o.Status.Register = reg(100, "string") }},
		{"length on u16", "measurements.current_limit.length: applies only to strings", func(o *Options) { o.Measurements.CurrentLimit.Length = 2 }},
		{"word order on u16", "measurements.current_limit.word_order: applies only to 32- and 64-bit types", func(o *Options) { o.Measurements.CurrentLimit.WordOrder = 1 }},
		{"byte order on float", "measurements.power.byte_order: applies only to strings", func(o *Options) { o.Measurements.Power.ByteOrder = 1 }},
		{"past the end", "measurements.power: registers 65535..65536 run past address 65535", func(o *Options) { o.Measurements.Power.Address = ptr(65535) }},
		{"multiplier 0", "measurements.power.multiplier: 0 would make every value 0", func(o *Options) { o.Measurements.Power.Multiplier = ptr(0.0) }},
		{"multiplier NaN", "measurements.power.multiplier: must be a finite number", func(o *Options) { o.Measurements.Power.Multiplier = ptr(math.NaN()) }},
		{"exponent", "measurements.power.exponent: 20 is outside -12..12", func(o *Options) { o.Measurements.Power.Exponent = 20 }},
		{"unit", "measurements.power.unit: 300 is outside 1..255", func(o *Options) { o.Measurements.Power.Unit = 300 }},
		{"unavailable", `measurements.current_limit.unavailable[0]: "-1" is not a whole number that fits u16`, func(o *Options) { o.Measurements.CurrentLimit.Unavailable = []string{"-1"} }},
		{"overlap", "measurements.currents[0]: holding 111..112 overlaps measurements.power (holding 110..111) on unit 1", func(o *Options) { o.Measurements.Currents[0].Address = ptr(111) }},
		{"too many currents", "measurements.currents: lists 4 registers; at most 3", func(o *Options) {
			o.Measurements.Currents = append(o.Measurements.Currents, reg(118, "s32"), reg(120, "s32"))
		}},
		{"two criteria", "measurements.enabled: set exactly one of values, not_values, at_least and mask", func(o *Options) { o.Measurements.Enabled.Mask = 4 }},
		{"no criterion", "errors[0]: set exactly one of", func(o *Options) { o.Errors[0].NotValues = nil }},
		{"mask on float", "measurements.enabled.mask: needs an integer register, not float32", func(o *Options) {
			o.Measurements.Enabled = &Condition{Register: reg(110, "float32"), Mask: 1}
		}},
		{"phases from two currents", "measurements.phases_from_currents: needs the three currents L1..L3", func(o *Options) {
			o.Measurements.PhasesFromCurrents = true
		}},
		{"rule without code", "errors[0].code: is required", func(o *Options) { o.Errors[0].Code = "" }},
		{"write input table", "set_current.register.table: input registers are read-only", func(o *Options) { o.SetCurrent.Register.Table = 1 }},
		{"max below min", "set_current.max: 5 A is not above min (6 A)", func(o *Options) { o.SetCurrent.Max = 5 }},
		{"max too high", "set_current.max: 100 A is above 80 A", func(o *Options) { o.SetCurrent.Max = 100 }},
		{"step finer than register", "set_current.step: 0.1 A is not a multiple of the register's resolution of 1 A", func(o *Options) { o.SetCurrent.Step = 0.1 }},
		{"max does not fit", "set_current.max: 40 is 40000 in the register, outside what s16 holds", func(o *Options) {
			o.SetCurrent.Register = reg(200, "s16")
			o.SetCurrent.Register.Exponent = -4
			o.SetCurrent.Register.Multiplier = ptr(10.0)
			o.SetCurrent.Max = 40
			o.SetCurrent.Step = 0.001
		}},
		{"enable no mode", "enable.mode: is required: register or current_zero", func(o *Options) { o.Enable.Mode = EnableNone }},
		{"current_zero without set_current", "enable.mode: current_zero needs set_current", func(o *Options) {
			o.SetCurrent, o.Watchdog = nil, nil
			o.Enable = &Enable{Mode: EnableCurrentZero}
		}},
		{"current_zero with register", "enable: register, on and off apply only to mode register", func(o *Options) { o.Enable.Mode = EnableCurrentZero }},
		{"enable without register", "enable.register: is required for mode register", func(o *Options) { o.Enable.Register = nil }},
		{"enable scaled", "enable.register: multiplier and exponent do not apply here", func(o *Options) { o.Enable.Register.Exponent = 1 }},
		{"enable on missing", "enable.on: is required", func(o *Options) { o.Enable.On = nil }},
		{"enable on = off", "enable.off: is the same as on", func(o *Options) { o.Enable.Off = ptr(1.0) }},
		{"enable on too large", "enable.on: 70000 is 70000 in the register, outside what u16 holds", func(o *Options) { o.Enable.On = ptr(70000.0) }},
		{"writes overlap", "enable.register: holding 200..200 overlaps set_current.register (holding 200..200) on unit 1", func(o *Options) { o.Enable.Register.Address = ptr(200) }},
		{"phases same", "phases.three: is the same as one", func(o *Options) { o.Phases.Three = ptr(1.0) }},
		{"phases three missing", "phases.three: is required", func(o *Options) { o.Phases.Three = nil }},
		{"phases fraction", `phases.one: "1.5" is not a whole number`, func(o *Options) { o.Phases.One = ptr(1.5) }},
		{"watchdog period", "watchdog.period: 0s is outside 1s..24h", func(o *Options) { o.Watchdog.Period = 0 }},
		{"watchdog no mode", "watchdog.mode: is required", func(o *Options) { o.Watchdog.Mode = WatchdogNone }},
		{"watchdog rewrite extra", "watchdog: register and value apply only to mode write_value", func(o *Options) { o.Watchdog.Mode = WatchdogRewrite }},
		{"watchdog rewrite without set_current", "watchdog.mode: rewrite_setpoint needs set_current", func(o *Options) {
			o.SetCurrent, o.Enable = nil, nil
			o.Watchdog = &Watchdog{Mode: WatchdogRewrite, Period: time.Second}
		}},
		{"watchdog value missing", "watchdog.value: is required", func(o *Options) { o.Watchdog.Value = nil }},
		{"connection unit", "connection.unit_id: 256 is outside 0..255", func(o *Options) { o.Connection.UnitID = 256 }},
		{"rtu broadcast", "connection.unit_id: 0 is the RTU broadcast address", func(o *Options) {
			o.Connection.UnitID, o.Connection.Framing = 0, 1
		}},
		{"max registers", "connection.max_registers: 200 is outside 1..125", func(o *Options) { o.Connection.MaxRegisters = 200 }},
		{"max gap", "connection.max_gap: 10 is outside 0..9", func(o *Options) { o.Connection.MaxRegisters = 10; o.Connection.MaxGap = 10 }},
		{"boundary", "connection.boundaries[0]: 0 is outside 1..65535", func(o *Options) { o.Connection.Boundaries = []int{0} }},
		{"crosses boundary", "measurements.power: registers 110..111 cross the boundary 111", func(o *Options) { o.Connection.Boundaries = []int{111} }},
		{"single write", "connection.single_write_function: 3 is neither 6 nor 16", func(o *Options) { o.Connection.SingleWrite = 3 }},
		{"string longer than a read", "status.register.length: a string needs its length in registers, 1..4", func(o *Options) {
			o.Connection.MaxRegisters = 4
			o.Status.Register = &Register{Address: ptr(100), Type: Type(9), Length: 5}
		}},
		{"identity refresh", "identity.refresh: 10ms is shorter than 1s", func(o *Options) { o.Identity.Refresh = 10 * time.Millisecond }},
		{"adopt_when without adopt", "set_current.adopt_when: needs adopt: true", func(o *Options) {
			o.SetCurrent.AdoptWhen = &Condition{Register: reg(150, "u16"), Values: []string{"1"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := validDefinition()
			tc.edit(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
			var de DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("error is %T, not a DefinitionError", err)
			}
		})
	}
}

// TestAllProblemsAtOnce: a definition with several mistakes lists them all.
func TestAllProblemsAtOnce(t *testing.T) {
	o := validDefinition()
	o.Measurements.Power.Type = 0
	o.SetCurrent.Max = 100
	o.Watchdog.Period = 0
	var de DefinitionError
	if err := o.Validate(); !errors.As(err, &de) || len(de) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}
