package phoenix

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server's requests: FC4 input registers, FC3
// holding registers, FC6/FC16 to 528, FC1 coils and FC5/FC15 to coil 400;
// discrete inputs are an illegal function.
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func (h handler) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	u, err := h.s.begin(req.ClientAddr, req.UnitId, req.IsWrite)
	if err != nil {
		return nil, err
	}
	s := h.s
	defer s.mu.Unlock()
	if req.IsWrite {
		if req.Addr != coilEnable || len(req.Args) != 1 {
			return nil, modbus.ErrIllegalDataAddress
		}
		u.enabled = req.Args[0]
		s.update()
		return nil, nil
	}
	if req.Addr < coilEnable || int(req.Addr)+int(req.Quantity) > coilEnd {
		return nil, modbus.ErrIllegalDataAddress
	}
	r := u.car.Read()
	coils := make([]bool, coilEnd-coilEnable)
	coils[0] = u.enabled
	coils[coilAllowed-coilEnable] = u.enabled && !u.fault
	coils[coilPaused-coilEnable] = r.Plugged && !u.enabled
	return coils[req.Addr-coilEnable : req.Addr-coilEnable+req.Quantity], nil
}

func (h handler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	u, err := h.s.begin(req.ClientAddr, req.UnitId, false)
	if err != nil {
		return nil, err
	}
	defer h.s.mu.Unlock()
	end := uint16(inputEnd)
	if h.s.cfg.Wallbe {
		end = inputEndWallbe
	}
	if req.Addr < regStatus || int(req.Addr)+int(req.Quantity) > int(end) {
		return nil, modbus.ErrIllegalDataAddress
	}
	regs := make([]uint16, end-regStatus)
	h.s.inputs(u, regs)
	return regs[req.Addr-regStatus : req.Addr-regStatus+req.Quantity], nil
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	u, err := h.s.begin(req.ClientAddr, req.UnitId, req.IsWrite)
	if err != nil {
		return nil, err
	}
	s := h.s
	defer s.mu.Unlock()
	if req.IsWrite {
		if req.Addr != regMaxCurrent || len(req.Args) != 1 {
			return nil, modbus.ErrIllegalDataAddress
		}
		v := int(req.Args[0])
		if v < int(minCurrent)*s.scale() || v > s.cfg.MaxCurrent*s.scale() {
			return nil, modbus.ErrIllegalDataValue
		}
		u.raw = uint16(v)
		s.update()
		return nil, nil
	}
	for _, b := range s.holdingBlocks(u) {
		if req.Addr >= b.start && int(req.Addr)+int(req.Quantity) <= int(b.start)+len(b.regs) {
			return b.regs[req.Addr-b.start : req.Addr-b.start+req.Quantity], nil
		}
	}
	return nil, modbus.ErrIllegalDataAddress
}

// begin counts the request, applies the faults and finds the unit; on
// success it returns with s.mu held.
func (s *Simulator) begin(client string, id uint8, write bool) (*unit, error) {
	if err := s.Admit(client, write); err != nil {
		return nil, err
	}
	s.mu.Lock()
	u := s.units[id]
	if u == nil {
		s.mu.Unlock()
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	s.update()
	return u, nil
}

// low32 returns v as two registers, least significant first (UM).
func low32(v int64) []uint16 { return modbusx.EncodeUint32(uint32(v), modbusx.LowWordFirst) }

func put(r []uint16, addr uint16, vs ...uint16) { copy(r[addr-regStatus:], vs) }

// inputs fills the input block from 100.
func (s *Simulator) inputs(u *unit, r []uint16) {
	c := u.car.Read()
	put(r, regStatus, uint16(s.pilot(u, c)))
	if c.Plugged {
		put(r, regChargeTime, low32(int64(time.Since(u.plugAt).Seconds()))...)
	}
	put(r, regDIP, 1<<9) // DIP switch 10 on: remote control
	put(r, regFirmware, modbusx.EncodeString(s.cfg.Firmware, 2, modbusx.LowByteFirst)...)
	if u.fault {
		put(r, regError, 12) // contactor fault
	}
	for i := uint16(0); i < 3; i++ {
		amps := math.Round(c.Currents[i])
		if s.cfg.Milliamps {
			amps = math.Round(c.Currents[i] * 1000)
		}
		put(r, regVoltageL1+2*i, low32(int64(math.Round(c.Voltages[i])))...)
		put(r, regCurrentL1+2*i, low32(int64(amps))...)
	}
	put(r, regPower, low32(int64(math.Round(c.Power)))...)
	put(r, regEnergy, low32(int64(s.cfg.EnergyWh+c.TotalWh))...)
	put(r, regSessionWh, low32(int64(c.SessionWh))...)
	if s.cfg.Wallbe {
		put(r, regWallbeFW, modbusx.EncodeString(s.cfg.WallbeFirmware, 6, modbusx.LowByteFirst)...)
	}
}

type holding struct {
	start uint16
	regs  []uint16
}

// holdingBlocks are the holding registers a read may cover, each read
// whole or in part.
func (s *Simulator) holdingBlocks(u *unit) []holding {
	c := u.car.Read()
	ident := make([]uint16, identEnd-regActual)
	if u.enabled && !u.fault {
		ident[0] = uint16(math.Round(s.amps(u) * 10))
	}
	copy(ident[regSerial-regActual:], modbusx.EncodeString(s.cfg.Serial, 6, modbusx.HighByteFirst))
	copy(ident[regName-regActual:], modbusx.EncodeString(s.cfg.Name, 5, modbusx.HighByteFirst))
	wh := uint64(s.cfg.EnergyWh + c.TotalWh)
	bs := []holding{{regActual, ident}, {regMaxCurrent, []uint16{u.raw}}}
	if s.cfg.Wallbe {
		bs = append(bs, holding{regEnergyHold, []uint16{uint16(wh)}},
			holding{regEnergyWallbe, modbusx.EncodeUint64(wh, modbusx.LowWordFirst)})
	} else {
		bs = append(bs, holding{regEnergyHold, low32(int64(wh))})
	}
	return bs
}
