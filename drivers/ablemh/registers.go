package ablemh

// Registers of the EVCC2/3 controller (ABL §2, notes §4a). Every read
// answer carries the number of the first register read in the high byte
// of its first word (ABL §1.4.1): 0x002E answers 0x2E in front of the
// state byte, 0x0001 answers 0x01 in front of the device id.
const (
	regIdentity = 0x0001 // R2: [0x01|device id] [firmware|flags]
	regStatus   = 0x0004 // R1: [0x04|state], read by the simulator's clients only
	regModify   = 0x0005 // W1: modify state (modify* below)
	regSysFlags = 0x0006 // R2: [0x06|-] [system flags, bit 9 upstream lost]
	regIcmax    = 0x0014 // W1: Icmax as PWM duty × 10, icmaxMin..noCurrent
	regSetup    = 0x002C // W1: bits 15..14 upstream timeout off (01) / on (10), low byte device id; E2 only
	regReport   = 0x002E // R5: [0x2E|state] [UCP|duty] Ict1 Ict2 Ict3 (0.1 A)
	regSerial   = 0x0050 // R8: [0x50|-] then 14 ASCII characters

	identityLen = 2
	sysFlagsLen = 2
	reportLen   = 5
	serialLen   = 8

	icmaxMin  = 0x0050 // 8 % duty
	noCurrent = 0x03E8 // 100 % duty: no current allowed; also "not available" in Ict

	flagUpstreamTimeout = 1 << 6 // in the flags byte of 0x0002
	flagMeter           = 1 << 5 // internal phase-current meter present
	sysUpstreamLost     = 1 << 9 // in the system flags word
	bitUCP              = 1 << 15
	dutyMask            = 0x0FFF

	modifyA1        = 0xA1A1 // back to A1 (leaves E0)
	modifyE0        = 0xE0E0 // outlet disabled
	modifyE2        = 0xE2E2 // setup mode
	modifyReset     = 0x5A5A
	modifyF1        = 0xF1F1
	modifyImbalance = 0x3838

	timeoutOff = 0b01 << 14 // regSetup bits 15..14
	timeoutOn  = 0b10 << 14

	defaultPort    = 502
	defaultID      = 1
	maxID          = 16
	ampsPerUnit    = 0.06 // A per Icmax unit (duty ‰ × 0.6 A, IEC 61851 below 51 A)
	minCurrent     = 6.0
	maxCurrent     = 32.0 // A, the highest rating of eMH1/eMH2 (22 kW)
	nominalVoltage = 230.0
)

// units is the Icmax value for amps, rounded down so that the car is
// never offered more than asked (ABL's example: 10 A → 0x00A6).
func units(amps float64) uint16 {
	if amps <= 0 {
		return noCurrent
	}
	return uint16(amps/ampsPerUnit + 1e-6)
}

// ampsOf is the current an Icmax (or duty) value offers, 0 for none.
func ampsOf(u uint16) float64 {
	if u >= noCurrent || u < icmaxMin {
		return 0
	}
	return float64(int(float64(u)*ampsPerUnit*100+0.5)) / 100
}
