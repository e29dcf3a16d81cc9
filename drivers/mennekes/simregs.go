package mennekes

import (
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server: HCC3 reads input registers and one
// holding register, Bender holding registers only; coils and discrete
// inputs are illegal functions.
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func (h handler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	if h.s.cfg.Family != "hcc3" {
		return nil, modbus.ErrIllegalFunction
	}
	return h.s.serve(req.ClientAddr, false, true, req.UnitId, req.Addr, req.Quantity, nil)
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	return h.s.serve(req.ClientAddr, req.IsWrite, false, req.UnitId, req.Addr, req.Quantity, req.Args)
}

// serve runs the fault injection and counters, then the register map.
func (s *Simulator) serve(client string, write, input bool, unit uint8, addr, n uint16, args []uint16) ([]uint16, error) {
	if err := s.Admit(client, write); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	if unit != unitDefault {
		return nil, modbus.ErrIllegalDataAddress
	}
	if write {
		if len(args) != 1 {
			return nil, modbus.ErrIllegalDataAddress
		}
		err := s.write(addr, args[0], now)
		s.update(now)
		return nil, err
	}
	m := s.holding()
	if input {
		m = s.inputs()
	}
	out := make([]uint16, n)
	for i := range out {
		v, ok := m[addr+uint16(i)]
		if !ok {
			return nil, modbus.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

// block fills [start, end) with zeros: the documented block.
func block(m map[uint16]uint16, start, end uint16) {
	for a := start; a < end; a++ {
		m[a] = 0
	}
}

// cp is the HCC3 CP state (1 A1 .. 8 D2) and Bender's (1 A .. 5 E).
func (s *Simulator) cp() uint16 {
	r := s.car.Read()
	pwm := s.applied() >= minCurrent
	hcc := s.cfg.Family == "hcc3"
	switch {
	case s.fault && hcc:
		return 1
	case s.fault:
		return 5
	case !r.Plugged && hcc && pwm:
		return 2
	case !r.Plugged:
		return 1
	case r.Charging && hcc:
		return 6
	case r.Charging:
		return 3
	case !hcc:
		return 2
	case !pwm && !r.Full:
		return 5
	case !pwm:
		return 3
	}
	return 4
}

// inputs is the HCC3 input table: 770..773, 776..795, 805..806.
func (s *Simulator) inputs() map[uint16]uint16 {
	r := s.car.Read()
	m := map[uint16]uint16{}
	block(m, hccCP, hccStatesEnd)
	block(m, hccPhases, hccInfoEnd)
	block(m, hccPlannedMin, hccPlannedEnd)
	m[hccCP] = s.cp()
	state, code := uint16(0), uint16(0)
	switch {
	case s.fault:
		state, code = 6, 11
	case s.tripped:
		code = 16
	}
	if r.Plugged {
		m[hccPP] = 4
		switch {
		case state == 6:
		case r.Charging:
			state = 3
		case s.paused || s.limit == 0:
			state = 4
		default:
			state = 2
		}
	}
	m[hccError], m[hccState] = code, state
	m[hccPhases], m[hccRated], m[hccInstall] = 3, s.cfg.Rated, s.cfg.Install
	u32(m, hccSerial, float64(s.cfg.Serial), modbusx.LowWordFirst)
	u32(m, hccSession, r.SessionWh, modbusx.LowWordFirst)
	u32(m, hccPower, r.Power, modbusx.LowWordFirst)
	for i, w := range modbusx.EncodeString(s.cfg.Name, 11, modbusx.LowByteFirst) {
		m[hccName+uint16(i)] = w
	}
	m[hccPlannedMin], m[hccPlannedMin+1] = uint16(minCurrent), s.cfg.Install
	return m
}

// holding is the holding table: HCC3 1024 only (1025 is write-only);
// Bender 100..151, 200..227, 700..749 and 1000.
func (s *Simulator) holding() map[uint16]uint16 {
	m := map[uint16]uint16{}
	if s.cfg.Family == "hcc3" {
		m[hccLimit] = s.limit
		return m
	}
	r := s.car.Read()
	block(m, benFirmware, benInfoEnd)
	block(m, benMeter, benMeterEnd)
	block(m, benSession, benSessEnd)
	for i, w := range modbusx.EncodeString(s.cfg.Firmware, 2, modbusx.HighByteFirst) {
		m[benFirmware+uint16(i)] = w
	}
	m[benProtocol], m[benCP], m[benAvail] = 0x0100, s.cp(), 1
	if r.Charging {
		m[benRelay] = 1
	}
	for i, w := range modbusx.EncodeString(s.cfg.Name, 10, modbusx.HighByteFirst) {
		m[benModel+uint16(i)] = w
	}
	total := s.cfg.EnergyWh + r.TotalWh
	for i := uint16(0); i < 3; i++ {
		u32(m, benMeter+2*i, total/3, modbusx.HighWordFirst)
		u32(m, benMeter+6+2*i, r.Currents[i]*r.Voltages[i], modbusx.HighWordFirst)
		u32(m, benMeter+12+2*i, r.Currents[i]*1000, modbusx.HighWordFirst)
		u32(m, benVoltage+2*i, r.Voltages[i], modbusx.HighWordFirst)
	}
	u32(m, benTotalWh, total, modbusx.HighWordFirst)
	u32(m, benTotalW, r.Power, modbusx.HighWordFirst)
	m[benSignal], m[benMin], m[benMax] = uint16(s.applied()), uint16(minCurrent), s.cfg.Rated
	u32(m, benEnergy, r.SessionWh, modbusx.HighWordFirst)
	m[benLimit] = s.limit
	return m
}

// write accepts the limit (0, or 6 A up to the installation current;
// it re-arms the watchdog) and, on HCC3, the charge command 1025.
func (s *Simulator) write(addr, v uint16, now time.Time) error {
	limitReg := map[string]uint16{"hcc3": hccLimit, "bender": benLimit}[s.cfg.Family]
	switch {
	case addr == limitReg:
		if v != 0 && (v < uint16(minCurrent) || v > s.cfg.Install) {
			return modbus.ErrIllegalDataValue
		}
		s.limit, s.written, s.tripped = v, now, false
	case addr == hccChargeCmd && s.cfg.Family == "hcc3":
		if v < 1 || v > 4 {
			return modbus.ErrIllegalDataValue
		}
		s.paused = v == 1 || v == 3
	default:
		return modbus.ErrIllegalDataAddress
	}
	return nil
}
