package alfen

import "github.com/evbridge/evbridge/drivers/modbusx"

// Register addresses are the wire (PDU) addresses of ALF §3; all are
// holding registers, big-endian, high word first (ALF §1). FLOAT32 and
// FLOAT64 are IEEE 754; reserved or unavailable registers read NaN,
// 0xFFFF per 16-bit register (ALF §1.2).

// Station unit (200): product identification, ALF §3.1.
const (
	regName         = 100 // STRING, 17 registers
	regManufacturer = 117 // STRING, 5 registers ("Alfen NV")
	regTableVersion = 122 // SIGNED16
	regFirmware     = 123 // STRING, 17 registers ("4.10.0-...")
	regPlatform     = 140 // STRING, 17 registers ("NG910")
	regSerial       = 157 // STRING, 11 registers
	regYear         = 168 // SIGNED16, yr; 169..173 month, day, hour, minute, second
	regUptime       = 174 // UNSIGNED64, ms
	regTimeZone     = 178 // SIGNED16, minutes offset to UTC
	identEnd        = 179
)

// Station unit (200): station status, ALF §3.2.
const (
	regStationMax  = 1100 // FLOAT32, A: station active max current
	regTemperature = 1102 // FLOAT32, °C: board temperature
	regOCPPState   = 1104 // UNSIGNED16: back office connection
	regSockets     = 1105 // UNSIGNED16: number of sockets
	statusEnd      = 1106
)

// Station unit (200): smart charging network, ALF §3.3.
const (
	regSCNName      = 1400 // STRING, 4 registers
	regSCNSockets   = 1404 // UNSIGNED16
	regSCNUsed      = 1405 // FLOAT32 ×3, A: total consumption L1..L3
	regSCNActual    = 1411 // FLOAT32 ×3, A: actual max current L1..L3
	regSCNMax       = 1417 // FLOAT32 ×3, A, R/W: max current per phase L1..L3
	regSCNValid     = 1423 // UNSIGNED32 ×3, s: remaining valid time L1..L3
	regSCNSafe      = 1429 // FLOAT32, A: SCN safe current
	regSCNEnabled   = 1431 // UNSIGNED16: 1 enabled, 0 disabled
	scnEnd          = 1432
	stationUnit     = 200
	defaultPort     = 502
	minCurrent      = 6.0  // A, IEC 61851 lowest pilot current
	maxCurrent      = 32.0 // A, the NG9xx platform's highest rating
	currentStep     = 0.1  // A; the setpoint is a float, see VERIFY in the package doc
	defaultValidity = 60   // s, ALF §1.1 default validity time
)

// Socket units (1, 2): energy meter, ALF §3.4.
const (
	regMeterState    = 300 // UNSIGNED16 bitmask: 1 initialised, 2 updated, 4 warning, 8 error
	regMeterAge      = 301 // UNSIGNED64, ms since the last measurement
	regMeterType     = 305 // UNSIGNED16: 0 RTU, 1 TCP/IP, 2 UDP, 3 P1, 4 other
	regVoltageL1     = 306 // FLOAT32 ×3, V: L1-N, L2-N, L3-N
	regVoltageLL     = 312 // FLOAT32 ×3, V: L1-L2, L2-L3, L3-L1
	regCurrentN      = 318 // FLOAT32, A
	regCurrentL1     = 320 // FLOAT32 ×3, A: L1, L2, L3
	regCurrentSum    = 326 // FLOAT32, A
	regPowerFactor   = 328 // FLOAT32 ×4: L1, L2, L3, sum
	regFrequency     = 336 // FLOAT32, Hz
	regPowerL1       = 338 // FLOAT32 ×3, W: real power L1..L3
	regPowerSum      = 344 // FLOAT32, W: real power sum
	regApparent      = 346 // FLOAT32 ×4, VA: L1..L3, sum
	regReactive      = 354 // FLOAT32 ×4, var: L1..L3, sum
	regEnergyL1      = 362 // FLOAT64 ×3, Wh: real energy delivered L1..L3
	regEnergySum     = 374 // FLOAT64, Wh: real energy delivered sum
	regConsumed      = 378 // FLOAT64 ×4, Wh: real energy consumed L1..L3, sum
	regApparentWh    = 394 // FLOAT64 ×4, VAh
	regReactiveWh    = 410 // FLOAT64 ×4, varh
	meterEnd         = 426
	meterBitInit     = 0x01
	meterBitUpdated  = 0x02
	meterBitWarning  = 0x04
	meterBitError    = 0x08
	meterDefaultType = 0
)

// Socket units (1, 2): socket status and control, ALF §3.4.
const (
	regAvailability = 1200 // UNSIGNED16: 1 operative, 0 inoperative
	regMode3        = 1201 // STRING, 5 registers: A, B1, B2, C1, C2, D1, D2, E, F
	regApplied      = 1206 // FLOAT32, A: actual applied max current
	regValidLeft    = 1208 // UNSIGNED32, s: remaining time before the safe current
	regSetpoint     = 1210 // FLOAT32, A, R/W: Modbus slave max current
	regSafeCurrent  = 1212 // FLOAT32, A: active load balancing safe current
	regAccounted    = 1214 // UNSIGNED16: 1 the setpoint is used, 0 not
	regPhases       = 1215 // UNSIGNED16, R/W: 1 or 3 phases
	socketEnd       = 1216
)

// socketValues are read from the socket unit on every poll.
func socketValues() []modbusx.Value {
	return []modbusx.Value{
		modbusx.At(regMeterState, modbusx.Uint16),
		modbusx.At(regVoltageL1, modbusx.Float32),
		modbusx.At(regVoltageL1+2, modbusx.Float32),
		modbusx.At(regVoltageL1+4, modbusx.Float32),
		modbusx.At(regCurrentL1, modbusx.Float32),
		modbusx.At(regCurrentL1+2, modbusx.Float32),
		modbusx.At(regCurrentL1+4, modbusx.Float32),
		modbusx.At(regPowerSum, modbusx.Float32),
		modbusx.At(regEnergySum, modbusx.Float64),
		modbusx.At(regAvailability, modbusx.Uint16),
		modbusx.Text(regMode3, 5),
		modbusx.At(regApplied, modbusx.Float32),
		modbusx.At(regValidLeft, modbusx.Uint32),
		modbusx.At(regSetpoint, modbusx.Float32),
		modbusx.At(regSafeCurrent, modbusx.Float32),
		modbusx.At(regAccounted, modbusx.Uint16),
		modbusx.At(regPhases, modbusx.Uint16),
	}
}

// identityValues are read from the station unit on the first poll and
// then every identityEvery.
func identityValues() []modbusx.Value {
	return []modbusx.Value{
		modbusx.Text(regName, 17),
		modbusx.Text(regManufacturer, 5),
		modbusx.Text(regFirmware, 17),
		modbusx.Text(regPlatform, 17),
		modbusx.Text(regSerial, 11),
	}
}

// stationValues are read from the station unit on the other polls.
func stationValues() []modbusx.Value {
	return []modbusx.Value{
		modbusx.At(regTemperature, modbusx.Float32),
		modbusx.At(regSockets, modbusx.Uint16),
	}
}

// planConfig is what the NG9xx accepts: contiguous documented registers
// only. A gap of 40 joins the meter values into one read of 300..377 and
// keeps reads inside the documented blocks, which the boundaries fence
// (a third-party report says one Alfen firmware rejects reads that cut a
// multi-register value; the plans never do).
func planConfig() modbusx.PlanConfig {
	c := modbusx.PlanConfig{MaxGap: 40}
	for _, b := range [][2]uint16{{100, identEnd}, {1100, statusEnd}, {1400, scnEnd}, {300, meterEnd}, {1200, socketEnd}} {
		c.Boundaries = append(c.Boundaries, modbusx.Boundary{Addr: b[0]}, modbusx.Boundary{Addr: b[1]})
	}
	return c
}
