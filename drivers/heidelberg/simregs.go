package heidelberg

import (
	"math"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// Function codes the boxes answer (HEC: FC3, FC4, FC6; FC16 as evcc uses).
const (
	fcReadHolding  = 3
	fcReadInput    = 4
	fcWriteSingle  = 6
	fcWriteMulti   = 16
	maxReadCount   = 125
	maxWriteCount  = 123
	exceptionFlag  = 0x80
	illegalFunc    = 1
	illegalAddress = 2
	illegalValue   = 3
	deviceBusy     = 6
)

// request answers one request to unit, whatever the framing: the fault
// injection, the counters, the watchdog, then the register map. It
// returns errNoUnit when no box has that id, modbus.ErrProtocolError to
// drop the connection, or a modbus exception error.
func (s *Simulator) request(unit uint8, fc byte, addr, qty uint16, args []uint16, client string) ([]uint16, error) {
	write := fc == fcWriteSingle || fc == fcWriteMulti
	s.mu.Lock()
	b := s.boxes[unit]
	s.mu.Unlock()
	if b == nil {
		return nil, errNoUnit
	}
	if err := s.Admit(client, write); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.update(now)
	b.heard = now // any request to the box feeds its watchdog
	switch fc {
	case fcReadInput:
		return b.read(b.inputImage(s, now), addr, qty)
	case fcReadHolding:
		return b.read(b.holdingImage(), addr, qty)
	case fcWriteSingle, fcWriteMulti:
		for i, v := range args {
			if err := b.write(addr+uint16(i), v); err != nil {
				return nil, err
			}
		}
		s.update(now)
		return nil, nil
	}
	return nil, modbus.ErrIllegalFunction
}

// image is the registers of the documented blocks of one table.
type image map[uint16]uint16

func (im image) block(start uint16, vals ...uint16) {
	for i, v := range vals {
		im[start+uint16(i)] = v
	}
}

// read answers a read: every register must lie in a documented block.
func (b *box) read(im image, addr, qty uint16) ([]uint16, error) {
	out := make([]uint16, qty)
	for i := range out {
		v, ok := im[addr+uint16(i)]
		if !ok {
			return nil, modbus.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

// inputImage is the input registers: status (4..18), hardware (100..133)
// and variant (200..203) blocks.
func (b *box) inputImage(s *Simulator, now time.Time) image {
	r := b.car.Read()
	im := image{}
	amps := func(i int) uint16 { return uint16(math.Round(r.Currents[i] * 10)) }
	onWh := uint32(r.TotalWh)
	totalWh := modbusx.EncodeUint32(uint32(b.installWh+r.TotalWh), modbusx.HighWordFirst)
	temp := int16(250 + 5*(r.Currents[0]+r.Currents[1]+r.Currents[2])/3)
	im.block(regLayout, b.layouts, b.state(r), amps(0), amps(1), amps(2), uint16(temp),
		uint16(r.Voltages[0]), uint16(r.Voltages[1]), uint16(r.Voltages[2]), 1, uint16(math.Round(r.Power)),
		uint16(onWh>>16), uint16(onWh), totalWh[0], totalWh[1])
	im.block(regHWMax, b.hwMax, uint16(minCurrent))
	im.block(regLogistic, modbusx.EncodeString(b.logistic, logisticWords, modbusx.HighByteFirst)...)
	im.block(regVariant, b.variant, 0, 0, b.revision)
	return im
}

// holdingImage is the control block 257..262 (260 reads 0).
func (b *box) holdingImage() image {
	im := image{}
	im.block(regWatchdog, b.watchdogMS, b.standby, b.lock, 0, b.setpoint, b.failsafe)
	return im
}

// write sets one holding register; 260 and the input table are not
// writable (illegal address), values off their range are illegal values.
func (b *box) write(addr, v uint16) error {
	current := func(v uint16) bool { return v == 0 || v >= 60 && v <= 160 }
	switch addr {
	case regWatchdog:
		b.watchdogMS = v
	case regStandby:
		if v != 0 && v != standbyOff {
			return modbus.ErrIllegalDataValue
		}
		b.standby = v
	case regRemoteLock:
		if v > 1 {
			return modbus.ErrIllegalDataValue
		}
		b.lock = v
	case regMaxCurrent:
		if !current(v) {
			return modbus.ErrIllegalDataValue
		}
		b.setpoint, b.tripped = v, false
	case regFailsafe:
		if !current(v) {
			return modbus.ErrIllegalDataValue
		}
		b.failsafe = v
	default:
		return modbus.ErrIllegalDataAddress
	}
	return nil
}

// handler serves the boxes as a translating (Modbus TCP) gateway would:
// a unit with no box behind it is "gateway target failed to respond".
type handler struct {
	modbussim.IllegalFunctions
	s *Simulator
}

func gateway(res []uint16, err error) ([]uint16, error) {
	if err == errNoUnit {
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	return res, err
}

func (h handler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return gateway(h.s.request(req.UnitId, fcReadInput, req.Addr, req.Quantity, nil, req.ClientAddr))
}

func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	fc := byte(fcReadHolding)
	if req.IsWrite {
		fc = fcWriteMulti
	}
	return gateway(h.s.request(req.UnitId, fc, req.Addr, req.Quantity, req.Args, req.ClientAddr))
}
