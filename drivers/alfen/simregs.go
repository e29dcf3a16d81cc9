package alfen

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server's requests. ALF §1.1 lists FC3, FC6
// and FC16 only: coils, discrete inputs and input registers (FC4) are
// illegal functions.
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	s := h.s
	if err := s.Admit(req.ClientAddr, req.IsWrite); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	if req.IsWrite {
		return nil, s.write(req.UnitId, req.Addr, req.Args, now)
	}
	return s.read(req.UnitId, req.Addr, req.Quantity, now)
}

// image is one documented block of registers; unset ones read 0xFFFF
// (NaN, ALF §1.2). It records where each value lies.
type image struct {
	start  uint16
	regs   []uint16
	values [][2]int // start offset, length
}

func newImage(start, end uint16) *image {
	im := &image{start: start, regs: make([]uint16, end-start)}
	for i := range im.regs {
		im.regs[i] = 0xffff
	}
	return im
}

func (im *image) put(addr uint16, r []uint16) {
	off := int(addr - im.start)
	copy(im.regs[off:], r)
	im.values = append(im.values, [2]int{off, len(r)})
}

func (im *image) u16(addr uint16, v uint16) { im.put(addr, []uint16{v}) }
func (im *image) u32(addr uint16, v uint32) {
	im.put(addr, modbusx.EncodeUint32(v, modbusx.HighWordFirst))
}
func (im *image) u64(addr uint16, v uint64) {
	im.put(addr, modbusx.EncodeUint64(v, modbusx.HighWordFirst))
}
func (im *image) f32(addr uint16, v float64) {
	im.put(addr, modbusx.EncodeFloat32(v, modbusx.HighWordFirst))
}
func (im *image) f64(addr uint16, v float64) {
	im.put(addr, modbusx.EncodeFloat64(v, modbusx.HighWordFirst))
}
func (im *image) str(addr, words uint16, v string) {
	im.put(addr, modbusx.EncodeString(v, int(words), modbusx.HighByteFirst))
}

// read answers FC3: the range must lie inside one documented block of the
// unit, and (unless SplitReads) must not cut a value.
func (s *Simulator) read(unit uint8, addr, n uint16, now time.Time) ([]uint16, error) {
	im := s.image(unit, addr, now)
	if im == nil {
		return nil, modbus.ErrIllegalDataAddress
	}
	lo, hi := int(addr-im.start), int(addr-im.start)+int(n)
	if hi > len(im.regs) {
		return nil, modbus.ErrIllegalDataAddress
	}
	if !s.cfg.SplitReads {
		for _, v := range im.values {
			if v[0] < lo && lo < v[0]+v[1] || v[0] < hi && hi < v[0]+v[1] {
				return nil, modbus.ErrIllegalDataAddress
			}
		}
	}
	return append([]uint16(nil), im.regs[lo:hi]...), nil
}

// image builds the block of unit holding addr, or nil.
func (s *Simulator) image(unit uint8, addr uint16, now time.Time) *image {
	in := func(start, end uint16) bool { return addr >= start && addr < end }
	if unit == stationUnit {
		switch {
		case in(regName, identEnd):
			return s.identityImage(now)
		case in(regStationMax, statusEnd):
			return s.stationImage()
		case in(regSCNName, scnEnd):
			return s.scnImage(now)
		}
		return nil
	}
	if unit < 1 || int(unit) > len(s.sockets) {
		return nil
	}
	sk := s.sockets[unit-1]
	switch {
	case in(regMeterState, meterEnd):
		return s.meterImage(sk)
	case in(regAvailability, socketEnd):
		return s.socketImage(sk, now)
	}
	return nil
}

func (s *Simulator) identityImage(now time.Time) *image {
	im := newImage(regName, identEnd)
	im.str(regName, 17, s.cfg.Name)
	im.str(regManufacturer, 5, "Alfen NV")
	im.u16(regTableVersion, 1)
	im.str(regFirmware, 17, s.cfg.Firmware)
	im.str(regPlatform, 17, s.cfg.Platform)
	im.str(regSerial, 11, s.cfg.Serial)
	_, off := now.Zone()
	for i, v := range []int{now.Year(), int(now.Month()), now.Day(), now.Hour(), now.Minute(), now.Second()} {
		im.u16(regYear+uint16(i), uint16(int16(v)))
	}
	im.u64(regUptime, uint64(now.Sub(s.start).Milliseconds()))
	im.u16(regTimeZone, uint16(int16(off/60)))
	return im
}

func (s *Simulator) stationImage() *image {
	im := newImage(regStationMax, statusEnd)
	amps := 0.0
	for _, sk := range s.sockets {
		for _, a := range sk.car.Read().Currents {
			amps += a
		}
	}
	im.f32(regStationMax, s.cfg.MaxCurrent)
	im.f32(regTemperature, 30+0.25*amps)
	im.u16(regOCPPState, 0)
	im.u16(regSockets, uint16(len(s.sockets)))
	return im
}

// scnImage: the station runs in Socket mode, so the SCN maxima are stored
// and count down but steer nothing (ALF §2.2).
func (s *Simulator) scnImage(now time.Time) *image {
	im := newImage(regSCNName, scnEnd)
	im.str(regSCNName, 4, "")
	im.u16(regSCNSockets, uint16(len(s.sockets)))
	var used [3]float64
	for _, sk := range s.sockets {
		r := sk.car.Read()
		for i := range used {
			used[i] += r.Currents[i]
		}
	}
	for i, p := range s.scn {
		at := uint16(2 * i)
		left := max(s.cfg.Validity-now.Sub(p.setAt), 0)
		actual := s.cfg.SafeCurrent
		if math.IsNaN(p.max) {
			left = 0
		} else if left > 0 {
			actual = p.max
		}
		im.f32(regSCNUsed+at, used[i])
		im.f32(regSCNActual+at, actual)
		im.f32(regSCNMax+at, p.max)
		im.u32(regSCNValid+at, uint32(left.Seconds()))
	}
	im.f32(regSCNSafe, s.cfg.SafeCurrent)
	im.u16(regSCNEnabled, 0)
	return im
}

// meterImage: what the socket's meter reports. The simulated meter has
// no apparent or reactive values, no per-phase energy and no neutral or
// line-to-line voltages: those read NaN, as unavailable registers do.
func (s *Simulator) meterImage(sk *simSocket) *image {
	r := sk.car.Read()
	im := newImage(regMeterState, meterEnd)
	im.u16(regMeterState, meterBitInit|meterBitUpdated)
	im.u64(regMeterAge, 250)
	im.u16(regMeterType, meterDefaultType)
	sum := 0.0
	for i := uint16(0); i < 3; i++ {
		im.f32(regVoltageL1+2*i, r.Voltages[i])
		im.f32(regVoltageLL+2*i, math.NaN())
		im.f32(regCurrentL1+2*i, r.Currents[i])
		im.f32(regPowerL1+2*i, r.Currents[i]*r.Voltages[i])
		im.f64(regEnergyL1+4*i, math.NaN())
		sum += r.Currents[i]
	}
	im.f32(regCurrentN, math.NaN())
	im.f32(regCurrentSum, sum)
	for i := uint16(0); i < 4; i++ {
		im.f32(regPowerFactor+2*i, math.NaN())
		im.f32(regApparent+2*i, math.NaN())
		im.f32(regReactive+2*i, math.NaN())
		im.f64(regConsumed+4*i, 0)
		im.f64(regApparentWh+4*i, math.NaN())
		im.f64(regReactiveWh+4*i, math.NaN())
	}
	im.f32(regFrequency, 50)
	im.f32(regPowerSum, r.Power)
	im.f64(regEnergySum, sk.baseWh+r.TotalWh)
	return im
}

func (s *Simulator) socketImage(sk *simSocket, now time.Time) *image {
	im := newImage(regAvailability, socketEnd)
	im.u16(regAvailability, 1)
	im.str(regMode3, 5, s.mode3(sk, sk.car.Read()))
	im.f32(regApplied, s.applied(sk))
	im.u32(regValidLeft, uint32(math.Ceil(s.validLeft(sk, now).Seconds())))
	im.f32(regSetpoint, sk.setpoint)
	im.f32(regSafeCurrent, s.cfg.SafeCurrent)
	acc := uint16(0)
	if sk.valid {
		acc = 1
	}
	im.u16(regAccounted, acc)
	im.u16(regPhases, uint16(sk.phases))
	return im
}

// write answers FC6 and FC16. Only 1210-1211 (whole, one request, ALF
// §1.3) and 1215 on a socket, and the SCN maxima on the station, are
// writable; anything else is an illegal address, a bad value an illegal
// value.
func (s *Simulator) write(unit uint8, addr uint16, args []uint16, now time.Time) error {
	if unit == stationUnit {
		return s.writeSCN(addr, args, now)
	}
	if unit < 1 || int(unit) > len(s.sockets) {
		return modbus.ErrIllegalDataAddress
	}
	sk := s.sockets[unit-1]
	switch {
	case addr == regSetpoint && len(args) == 2:
		v, err := modbusx.DecodeFloat32(args, modbusx.HighWordFirst)
		if err != nil || v < 0 || v > s.cfg.MaxCurrent {
			return modbus.ErrIllegalDataValue
		}
		sk.setpoint, sk.setAt, sk.valid = v, now, true
	case addr == regPhases && len(args) == 1:
		if args[0] != 1 && args[0] != 3 {
			return modbus.ErrIllegalDataValue
		}
		sk.phases = int(args[0])
	default:
		return modbus.ErrIllegalDataAddress
	}
	s.update(now)
	return nil
}

func (s *Simulator) writeSCN(addr uint16, args []uint16, now time.Time) error {
	off := int(addr) - regSCNMax
	if off < 0 || off%2 != 0 || len(args)%2 != 0 || off+len(args) > 6 {
		return modbus.ErrIllegalDataAddress
	}
	vals := make([]float64, 0, 3)
	for i := 0; i < len(args); i += 2 {
		v, err := modbusx.DecodeFloat32(args[i:i+2], modbusx.HighWordFirst)
		if err != nil || v < 0 {
			return modbus.ErrIllegalDataValue
		}
		vals = append(vals, v)
	}
	for i, v := range vals {
		s.scn[off/2+i] = scnPhase{max: v, setAt: now}
	}
	return nil
}
