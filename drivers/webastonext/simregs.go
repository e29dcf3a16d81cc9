package webastonext

import (
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server's requests: FC3 (and FC4, which evcc
// uses for the currents) reads the register map, FC6/FC16 write; coils
// and discrete inputs are illegal functions.
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func (h handler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	st, now, err := h.s.begin(req.ClientAddr, req.UnitId, false)
	if err != nil {
		return nil, err
	}
	defer h.s.mu.Unlock()
	return h.s.read(st, req.Addr, req.Quantity, now)
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	st, now, err := h.s.begin(req.ClientAddr, req.UnitId, req.IsWrite)
	if err != nil {
		return nil, err
	}
	defer h.s.mu.Unlock()
	if req.IsWrite {
		return nil, h.s.write(st, req.Addr, req.Args, now)
	}
	return h.s.read(st, req.Addr, req.Quantity, now)
}

// begin counts the request, applies the faults and finds the station; on
// success it returns with s.mu held.
func (s *Simulator) begin(client string, unit uint8, write bool) (*station, time.Time, error) {
	if err := s.Admit(client, write); err != nil {
		return nil, time.Time{}, err
	}
	s.mu.Lock()
	st := s.stations[unit]
	if st == nil {
		s.mu.Unlock()
		return nil, time.Time{}, modbus.ErrGWTargetFailedToRespond
	}
	now := time.Now()
	s.update(now)
	return st, now, nil
}

// block is one documented range; reserved registers inside read 0,
// anything outside every block (the write-only 5000..5006 included) is an
// illegal data address.
type block struct {
	start, end uint16
	fill       func(s *Simulator, st *station, r []uint16, now time.Time)
}

var blocks = []block{
	{regCPState, statusEnd, (*Simulator).status},
	{regMaxCurrent, limitsEnd, (*Simulator).limits},
	{1500, sessionEnd, (*Simulator).session},
	{regUserID, userEnd, func(*Simulator, *station, []uint16, time.Time) {}}, // no id tag, no smart vehicle
	{regSafeCurrent, configEnd, func(_ *Simulator, st *station, r []uint16, _ time.Time) { r[0], r[2] = st.safe, st.comTimeout }},
	{regLifeBit, regLifeBit + 1, func(_ *Simulator, st *station, r []uint16, _ time.Time) { r[0] = st.life }},
}

func (s *Simulator) read(st *station, addr, n uint16, now time.Time) ([]uint16, error) {
	for _, b := range blocks {
		if addr < b.start || int(addr)+int(n) > int(b.end) {
			continue
		}
		regs := make([]uint16, b.end-b.start)
		b.fill(s, st, regs, now)
		return regs[addr-b.start : addr-b.start+n], nil
	}
	return nil, modbus.ErrIllegalDataAddress
}

func put(r []uint16, start, addr uint16, vs ...uint16) { copy(r[addr-start:], vs) }

func put32(r []uint16, start, addr uint16, v uint32) {
	put(r, start, addr, modbusx.EncodeUint32(v, modbusx.HighWordFirst)...)
}

func (s *Simulator) status(st *station, r []uint16, _ time.Time) {
	c := st.car.Read()
	var cable, charging, evse, code uint16 = 0, 0, 1, 0
	if c.Plugged {
		cable = 3
	}
	if c.Charging {
		charging = 1
	}
	if st.fault {
		evse, code = 2, 0x1f
	}
	put(r, regCPState, regCPState, uint16(s.cpState(st, c)), charging, evse)
	put(r, regCPState, regCable, cable)
	put(r, regCPState, regErrorCode, code)
	for i := uint16(0); i < 3; i++ {
		put(r, regCPState, regCurrentL1+2*i, uint16(c.Currents[i]*1000+0.5))
		put32(r, regCPState, regPowerL1+4*i, uint32(c.Currents[i]*c.Voltages[i]+0.5))
	}
	put32(r, regCPState, regPower, uint32(c.Power+0.5))
	put32(r, regCPState, regMeter, uint32(s.cfg.EnergyWh+c.TotalWh+0.5))
}

func (s *Simulator) limits(st *station, r []uint16, _ time.Time) {
	c := st.car.Read()
	var cable, ev uint16
	if c.Plugged {
		cable, ev = maxCurrent, uint16(s.cfg.Car.MaxCurrent)
	}
	put(r, regMaxCurrent, regMaxCurrent, uint16(s.limit(c)))
	put(r, regMaxCurrent, regMinCurrent, minCurrent)
	put(r, regMaxCurrent, regStationMax, uint16(s.cfg.MaxCurrent))
	put(r, regMaxCurrent, regCableMax, cable)
	put(r, regMaxCurrent, regEVMax, ev)
}

func (s *Simulator) session(st *station, r []uint16, now time.Time) {
	c := st.car.Read()
	if !c.Plugged {
		return
	}
	put(r, 1500, regSessionWh, uint16(min(c.SessionWh+0.5, 0xffff)))
	put32(r, 1500, regChargeTime, uint32(now.Sub(st.plugAt).Seconds()))
}

// write answers FC6 and FC16. 5000..5001 (a U32) must come whole in one
// FC16; every other register written must be one of the writable ones
// (else illegal data address) with a value in range (else illegal data
// value); nothing is applied unless all are.
func (s *Simulator) write(st *station, addr uint16, args []uint16, now time.Time) error {
	if addr == regChargePower && len(args) == 2 {
		w, _ := modbusx.DecodeUint32(args, modbusx.HighWordFirst)
		if w > uint32(s.cfg.MaxCurrent*230*s.cfg.Phases) {
			return modbus.ErrIllegalDataValue
		}
		a := int(w) / (230 * s.cfg.Phases)
		if a < minCurrent {
			a = 0
		}
		st.setpoint = a
		s.update(now)
		return nil
	}
	for i, v := range args {
		ok := true
		switch addr + uint16(i) {
		case regSafeCurrent:
			ok = v == 0 || v >= minCurrent && v <= maxCurrent
		case regComTimeout:
			ok = v <= 3600
		case regChargeAmps:
			ok = v == 0 || v >= minCurrent && int(v) <= s.cfg.MaxCurrent
		case regChargeAction:
			ok = v <= actionCancel
		case regLifeBit:
			ok = v <= 1
		default:
			return modbus.ErrIllegalDataAddress
		}
		if !ok {
			return modbus.ErrIllegalDataValue
		}
	}
	for i, v := range args {
		switch addr + uint16(i) {
		case regSafeCurrent:
			st.safe = v
		case regComTimeout:
			st.comTimeout = v
			st.nextCheck = now.Add(checkPeriod(st))
		case regChargeAmps:
			st.setpoint = int(v)
		case regChargeAction:
			switch v {
			case actionStart:
				st.cancelled = false
			case actionCancel:
				st.cancelled = true
			}
		case regLifeBit:
			st.life = v
			if v == 1 {
				st.lastLife, st.lapsed = now, false
			}
		}
	}
	s.update(now)
	return nil
}
