package quasar

import (
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server's requests: FC3 reads the map, FC6
// and FC16 write it; input registers, coils and discrete inputs are
// illegal functions (MAP lists holding registers only).
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
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
	return read(st, req.Addr, req.Quantity)
}

// begin counts the request, applies the faults, finds the charger and
// notes the traffic (which holds off the idle timeout); on success it
// returns with s.mu held.
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
	st.lastTraffic = now
	return st, now, nil
}

// block is one group of MAP; registers inside a group that MAP does not
// list read 0, anything outside every group is an illegal data address.
type block struct {
	start, end uint16
	fill       func(st *station, r []uint16)
}

var blocks = []block{
	{regFirmware, identityEnd, func(st *station, r []uint16) {
		r[0], r[1], r[2] = st.firmware, uint16(st.serial>>16), uint16(st.serial)
	}},
	{regControl, controlEnd, func(st *station, r []uint16) { r[0], r[1], r[2] = st.control, st.autostart, st.typ }},
	{regIdleTimeout, regIdleTimeout + 1, func(st *station, r []uint16) { r[0] = st.idle }},
	{regLock, actionEnd, func(st *station, r []uint16) { r[0], r[1], r[2] = st.locked, st.action, uint16(st.current) }},
	{regPower, regPower + 1, func(st *station, r []uint16) { r[0] = uint16(st.power) }},
	{regMaxPower, regMaxPower + 1, func(st *station, r []uint16) { r[0] = st.maxPower }},
	{regActualPower, statusEnd, status},
}

func read(st *station, addr, n uint16) ([]uint16, error) {
	for _, b := range blocks {
		if addr < b.start || int(addr)+int(n) > int(b.end) {
			continue
		}
		regs := make([]uint16, b.end-b.start)
		b.fill(st, regs)
		return regs[addr-b.start : addr-b.start+n], nil
	}
	return nil, modbus.ErrIllegalDataAddress
}

func status(st *station, r []uint16) {
	c := st.car.Read()
	r[0] = uint16(int16(power(st, c)))
	r[regState-regActualPower] = uint16(cpState(st, c))
	r[regSoC-regActualPower] = uint16(soc(st, c))
	copy(r[regError1-regActualPower:], st.errs[:])
}

// write answers FC6 and FC16. Every register written must be writable
// (else illegal data address) and take the value (else illegal data
// value); every register but 81 needs remote control, as MAP says,
// counting a 1 written to 81 earlier in the same request. Nothing is
// applied unless all are.
func (s *Simulator) write(st *station, addr uint16, args []uint16, now time.Time) error {
	remote := st.control == controlRemote
	for i, v := range args {
		reg := addr + uint16(i)
		ok := true
		switch reg {
		case regControl:
			ok = v <= controlRemote
			remote = v == controlRemote
		case regAutostart, regSetpointTyp, regLock:
			ok = v <= 1
		case regIdleTimeout:
			ok = v <= 3600
		case regAction:
			ok = v == actionStart || v == actionStop
		case regCurrent:
			a := int(int16(v))
			ok = a >= -int(st.maxPower)/230 && a <= int(st.maxPower)/230
		case regPower:
			ok = abs(int(int16(v))) <= int(st.maxPower)
		case regMaxPower:
			ok = v >= 1380 && v <= uint16(maxWatts)
		default:
			return modbus.ErrIllegalDataAddress
		}
		if !ok || reg != regControl && !remote {
			return modbus.ErrIllegalDataValue
		}
	}
	for i, v := range args {
		switch addr + uint16(i) {
		case regControl:
			st.control = v
			if v == controlUser {
				st.autostart = 1 // MAP: back to its default with user control
			}
		case regAutostart:
			st.autostart = v
		case regSetpointTyp:
			st.typ = v
		case regIdleTimeout:
			st.idle = v
		case regLock:
			st.locked = v
		case regAction:
			st.action = v
		case regCurrent:
			st.current = int16(v)
		case regPower:
			st.power = int16(v)
		case regMaxPower:
			st.maxPower = v
		}
	}
	s.update(now)
	return nil
}

func abs(v int) int { return max(v, -v) }
