package vestel

import (
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server's requests: FC4 for the input
// registers, FC3/FC6/FC16 for the holding registers; coils and discrete
// inputs are illegal functions.
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
	return h.s.read(st, modbusx.Input, req.Addr, req.Quantity, now)
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
	return h.s.read(st, modbusx.Holding, req.Addr, req.Quantity, now)
}

// begin counts the request, applies the faults and finds the station; on
// success it returns with s.mu held.
func (s *Simulator) begin(client string, unit uint8, write bool) (*station, time.Time, error) {
	s.mu.Lock()
	if s.last != client && s.last != "" && s.cfg.MaxMasters == 1 {
		s.disconnect("") // the one master changed: the old link is gone
	}
	s.last = client
	cut := s.terminate[client]
	delete(s.terminate, client)
	v := s.Take(client, write, cut)
	if v.Drop && !cut {
		s.disconnect("")
	}
	s.mu.Unlock()
	if err := v.Wait(); err != nil {
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

// block is one documented range of a table; reserved registers inside
// read 0, anything outside every block is an illegal data address.
type block struct {
	t          modbusx.Table
	start, end uint16
	fill       func(s *Simulator, st *station, r []uint16, now time.Time)
}

func (s *Simulator) blocks() []block {
	bs := []block{
		{modbusx.Input, regSerial, identEnd, (*Simulator).identity},
		{modbusx.Input, regMaxPower, installEnd, (*Simulator).install},
		{modbusx.Input, regCPState, statusEnd, (*Simulator).status},
		{modbusx.Input, regSessMax, limitsEnd, (*Simulator).limits},
		{modbusx.Input, 1500, sessionEnd, (*Simulator).session},
		{modbusx.Holding, regFailsafeCurrent, regFailsafeTimeout + 1, func(_ *Simulator, st *station, r []uint16, _ time.Time) {
			r[0], r[2] = st.fsCurrent, st.fsTimeout
		}},
		{modbusx.Holding, regChargingCurrent, regChargingCurrent + 1, func(_ *Simulator, st *station, r []uint16, _ time.Time) { r[0] = st.setpoint }},
		{modbusx.Holding, regAlive, regAlive + 1, func(_ *Simulator, st *station, r []uint16, _ time.Time) { r[0] = st.alive }},
	}
	if !s.cfg.NoPhaseSwitch {
		bs = append(bs, block{modbusx.Holding, regPhaseSwitch, regPhaseSwitch + 1,
			func(_ *Simulator, st *station, r []uint16, _ time.Time) { r[0] = st.phaseSwitch }})
	}
	return bs
}

func (s *Simulator) read(st *station, t modbusx.Table, addr, n uint16, now time.Time) ([]uint16, error) {
	for _, b := range s.blocks() {
		if b.t != t || addr < b.start || int(addr)+int(n) > int(b.end) {
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

func (s *Simulator) identity(_ *station, r []uint16, now time.Time) {
	put(r, regSerial, regSerial, encodeChars(s.cfg.Serial, 25)...)
	put(r, regSerial, regChargePoint, encodeChars("CP-"+s.cfg.Serial, 50)...)
	put(r, regSerial, regBrand, encodeChars(s.cfg.Brand, 10)...)
	put(r, regSerial, regModel, encodeChars(s.cfg.Model, 5)...)
	put(r, regSerial, regFirmware, encodeChars(s.cfg.Firmware, 50)...)
	y, m, d := now.Date()
	put32(r, regSerial, regDate, uint32((y%100)*10000+int(m)*100+d))
	put32(r, regSerial, regTime, uint32(now.Hour()*10000+now.Minute()*100+now.Second()))
}

func (s *Simulator) install(_ *station, r []uint16, _ time.Time) {
	put32(r, regMaxPower, regMaxPower, uint32(s.cfg.MaxCurrent*230*s.cfg.Phases))
	put(r, regMaxPower, regPhaseCount, s.defaultSwitch())
}

func (s *Simulator) status(st *station, r []uint16, _ time.Time) {
	c := st.car.Read()
	var cable, charging uint16
	if c.Plugged {
		cable = 3
	}
	if c.Charging {
		charging = 1
	}
	put(r, regCPState, regCPState, uint16(s.cpState(st, c)), charging, 1)
	put(r, regCPState, regCable, cable)
	var fault uint32
	if st.fault {
		fault = 0x21 // any non-zero code
	}
	put32(r, regCPState, regFault, fault)
	for i := uint16(0); i < 3; i++ {
		put(r, regCPState, regCurrentL1+2*i, uint16(c.Currents[i]*1000+0.5))
		put(r, regCPState, regVoltageL1+2*i, uint16(c.Voltages[i]+0.5))
		put32(r, regCPState, regPowerL1+4*i, uint32(c.Currents[i]*c.Voltages[i]+0.5))
	}
	put32(r, regCPState, regPower, uint32(c.Power+0.5))
	put32(r, regCPState, regMeter, uint32((s.cfg.EnergyWh+c.TotalWh)/100))
}

func (s *Simulator) limits(st *station, r []uint16, _ time.Time) {
	cable := uint16(0)
	if st.car.Read().Plugged {
		cable = maxCurrent
	}
	put(r, regSessMax, regSessMax, min(st.setpoint, uint16(s.cfg.MaxCurrent)))
	put(r, regSessMax, regEVSEMin, minCurrent)
	put(r, regSessMax, regEVSEMax, uint16(s.cfg.MaxCurrent))
	put(r, regSessMax, regCableMax, cable)
}

func (s *Simulator) session(st *station, r []uint16, now time.Time) {
	c := st.car.Read()
	if !c.Plugged {
		return
	}
	hms := func(t time.Time) uint32 { return uint32(t.Hour()*10000 + t.Minute()*100 + t.Second()) }
	put32(r, 1500, regSessionWh, uint32(c.SessionWh+0.5))
	put32(r, 1500, regSessStart, hms(st.plugAt))
	put32(r, 1500, regSessTime, uint32(now.Sub(st.plugAt).Seconds()))
}

// write answers FC6 and FC16: every register written must be writable
// (else illegal data address) and every value in range (else illegal data
// value); nothing is applied unless all are.
func (s *Simulator) write(st *station, addr uint16, args []uint16, now time.Time) error {
	type change struct {
		reg uint16
		v   uint16
	}
	var changes []change
	for i, v := range args {
		reg := addr + uint16(i)
		ok := true
		switch reg {
		case regPhaseSwitch:
			if s.cfg.NoPhaseSwitch {
				return modbus.ErrIllegalDataAddress
			}
			ok = v == 0 || v == 1 && s.cfg.Phases == 3 // SPEC: not 1 on a one-phase installation
		case regFailsafeCurrent:
			ok = v == 0 || v >= minCurrent && v <= uint16(s.cfg.MaxCurrent)
		case regFailsafeTimeout:
			ok = v <= 3600
		case regChargingCurrent:
			ok = v == 0 || v >= minCurrent && v <= uint16(s.cfg.MaxCurrent)
		case regAlive:
			ok = v <= 1
		default:
			return modbus.ErrIllegalDataAddress
		}
		if !ok {
			return modbus.ErrIllegalDataValue
		}
		changes = append(changes, change{reg, v})
	}
	for _, c := range changes {
		switch c.reg {
		case regPhaseSwitch:
			st.phaseSwitch = c.v
		case regFailsafeCurrent:
			st.fsCurrent = c.v
		case regFailsafeTimeout:
			st.fsTimeout = c.v
			st.nextCheck = now.Add(s.checkPeriod(st))
		case regChargingCurrent:
			st.setpoint = c.v
		case regAlive:
			st.alive = c.v
			if c.v == 1 {
				st.lastAlive, st.failsafe = now, false
			}
		}
	}
	s.update(now)
	return nil
}
