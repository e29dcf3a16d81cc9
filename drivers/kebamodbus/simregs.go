package kebamodbus

import (
	"math"
	"slices"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// handler answers the Modbus server. KEBA §2 lists FC3 and FC6 only, so
// coils, discrete inputs and input registers are illegal functions. The
// library hands FC6 and FC16 to the same handler: a one-register FC16
// write passes as FC6 would.
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
		if len(req.Args) != 1 {
			return nil, modbus.ErrIllegalDataAddress
		}
		err := s.write(req.Addr, req.Args[0], now)
		s.update(now)
		return nil, err
	}
	// One UINT32 per request (KEBA §2).
	if req.Quantity != 2 || !slices.Contains(readable, req.Addr) {
		return nil, modbus.ErrIllegalDataAddress
	}
	return modbusx.EncodeUint32(s.value(req.Addr), modbusx.HighWordFirst), nil
}

// value is the UINT32 at a readable register; s.mu is held.
func (s *Simulator) value(a uint16) uint32 {
	r := s.car.Read()
	energy := func(wh float64) uint32 {
		if s.cfg.EnergyTenths {
			wh *= 10
		}
		return uint32(math.Round(wh))
	}
	switch {
	case a == regState:
		return s.state(r)
	case a == regCable:
		return s.cable(r)
	case a == regError:
		if s.fault {
			return 0x40000 // error group 4, KEBA §3.3's example
		}
		return 0
	case a >= regCurrentL1 && a <= regCurrentL1+4:
		return uint32(math.Round(r.Currents[(a-regCurrentL1)/2] * 1000))
	case a == regSerial:
		return s.cfg.Serial
	case a == regProduct:
		return s.cfg.Product
	case a == regFirmware:
		return s.cfg.Firmware
	case a == regPower:
		return uint32(math.Round(r.Power * 1000))
	case a == regEnergy:
		return energy(s.cfg.EnergyWh + r.TotalWh)
	case a >= regVoltageL1 && a <= regVoltageL1+4:
		return uint32(math.Round(r.Voltages[(a-regVoltageL1)/2]))
	case a == regPowerFactor:
		if r.Charging {
			return 1000
		}
		return 0
	case a == regMaxCurrent:
		return s.offered()
	case a == regSessionEnergy:
		return energy(r.SessionWh)
	case a == regPhaseSource:
		return s.phaseSrc
	case a == regPhaseState:
		return s.phaseState()
	case a == regFailsafeCurrent:
		return s.fsMA
	case a == regFailsafeTimeout:
		return s.fsTimeout
	}
	return 0 // regRFID: no card
}

// phaseState is 1552: a P30 reads 0/1 for 1/3 phases, a P40 1/3.
func (s *Simulator) phaseState() uint32 {
	switch {
	case s.p40() && s.threePhase:
		return 3
	case s.p40():
		return 1
	case s.threePhase:
		return 1
	}
	return 0
}

// write answers FC6 on the registers of KEBA §4: others are an illegal
// address, values out of the documented range an illegal value. Writes
// to 5004, 5014 and 5018 re-arm the failsafe timer; 5004 also ends a
// fallback (the UDP guide wants current and enable set again).
func (s *Simulator) write(a, v uint16, now time.Time) error {
	current := func(v uint16) bool { return v >= 6000 && v <= 63000 }
	switch a {
	case regSetCurrent:
		if !current(v) && !(s.p40() && v == 0) {
			return modbus.ErrIllegalDataValue
		}
		s.userMA, s.tripped = uint32(v), false
		if s.p40() {
			s.enabled = v > 0
		}
	case regEnable:
		if v > 1 {
			return modbus.ErrIllegalDataValue
		}
		s.enabled = v == 1
	case regSetFailTimeout:
		if v != 0 && (int(v) < s.cfg.FailsafeMin || v > maxFailsafeTimeout) {
			return modbus.ErrIllegalDataValue
		}
		s.fsTimeout = uint32(v)
	case regSetFailCurrent:
		if v != 0 && !current(v) {
			return modbus.ErrIllegalDataValue
		}
		s.fsMA = uint32(v)
		return nil
	case regSetFailPersist, regUnlock:
		if v > 1 {
			return modbus.ErrIllegalDataValue
		}
		s.unlks += uint32(v)
		return nil
	case regSetEnergy:
		s.setEnergy = uint32(v)
		return nil
	case regSetPhaseSource:
		if v > phaseSourceModbus {
			return modbus.ErrIllegalDataValue
		}
		s.phaseSrc = uint32(v)
		return nil
	case regSetPhases:
		if v > 1 || !s.cfg.PhaseSwitch || s.phaseSrc != phaseSourceModbus {
			return modbus.ErrIllegalDataValue
		}
		s.threePhase = v == 1
		return nil
	default:
		return modbus.ErrIllegalDataAddress
	}
	s.fsArmed = now
	return nil
}
