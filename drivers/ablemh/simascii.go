package ablemh

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
	"github.com/simonvetter/modbus"
)

// The controller's functions (ABL §1.4): read holding registers and
// write multiple registers; any other gets exception 01.
const (
	fcRead        = 0x03
	fcWrite       = 0x10
	exceptionFlag = 0x80
	maxWriteRegs  = 123
)

// listen is the harness's Listen hook: a transparent RS485 gateway that
// passes Modbus ASCII lines (modbusx's frame helpers) between TCP and
// the controllers. As on a real bus, a corrupt frame, or one for a
// device id no controller has, gets no answer.
func (s *Simulator) listen(addr string) (string, func() error, error) {
	return modbussim.ListenStream(addr, s.serveASCII)
}

// errSilent: nobody on the bus answers.
var errSilent = errors.New("no answer")

// serveASCII answers the lines of one connection until it breaks or a
// dropped request closes it.
func (s *Simulator) serveASCII(conn net.Conn) {
	r := bufio.NewReaderSize(conn, modbusx.MaxASCIIFrame+2)
	client := conn.RemoteAddr().String()
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // an endless line: drop it piece by piece
		}
		if err != nil {
			return
		}
		start, unit, pdu, err := modbusx.DecodeASCIIFrame(line)
		if err != nil || start != modbusx.ASCIIStart {
			continue // a controller ignores what it cannot read
		}
		if s.cfg.Echo {
			if _, err := conn.Write(line); err != nil {
				return
			}
		}
		res, err := s.request(unit, pdu, client)
		switch {
		case errors.Is(err, errSilent):
			continue
		case err != nil:
			return
		}
		s.mu.Lock()
		noise := s.noise
		s.noise = nil
		s.mu.Unlock()
		if _, err := conn.Write(append(noise, modbusx.EncodeASCIIFrame(modbusx.ASCIIReplyStart, unit, res)...)); err != nil {
			return
		}
	}
}

// request answers one frame for unit: the reply PDU, errSilent, or
// another error to close the connection.
func (s *Simulator) request(unit byte, pdu []byte, client string) ([]byte, error) {
	fc := pdu[0]
	s.mu.Lock()
	_, present := s.boxes[unit]
	s.mu.Unlock()
	if unit == 0 && fc == fcWrite { // broadcast: every controller, no answer
		s.mu.Lock()
		for id := range s.boxes {
			s.apply(id, pdu)
		}
		s.mu.Unlock()
		return nil, errSilent
	}
	if !present {
		return nil, errSilent
	}
	exc := func(code byte) []byte { return []byte{fc | exceptionFlag, code} }
	switch err := s.Admit(client, fc == fcWrite); {
	case errors.Is(err, modbus.ErrServerDeviceBusy):
		return exc(6), nil
	case err != nil:
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(unit, pdu), nil
}

// apply runs a request on controller id and returns the reply PDU;
// s.mu is held.
func (s *Simulator) apply(id uint8, pdu []byte) []byte {
	b := s.boxes[id]
	fc := pdu[0]
	exc := func(code byte) []byte { return []byte{fc | exceptionFlag, code} }
	now := time.Now()
	s.update(now)
	b.heard = now
	be := binary.BigEndian
	switch {
	case fc == fcRead && len(pdu) == 5:
		addr, n := be.Uint16(pdu[1:]), be.Uint16(pdu[3:])
		if n == 0 || n > modbusx.MaxRegisters {
			return exc(3)
		}
		regs, ok := s.blocks(b)[addr]
		if !ok || int(n) > len(regs) {
			return exc(2)
		}
		res := []byte{fcRead, byte(2 * n)}
		for _, v := range regs[:n] {
			res = be.AppendUint16(res, v)
		}
		return res
	case fc == fcWrite && len(pdu) >= 6:
		addr, n := be.Uint16(pdu[1:]), be.Uint16(pdu[3:])
		if n == 0 || n > maxWriteRegs || int(pdu[5]) != 2*int(n) || len(pdu) != 6+2*int(n) {
			return exc(3)
		}
		if n != 1 {
			return exc(2)
		}
		if code := s.write(b, addr, be.Uint16(pdu[6:])); code != 0 {
			return exc(code)
		}
		s.update(now)
		return pdu[:5]
	case fc == fcRead || fc == fcWrite:
		return exc(3)
	}
	return exc(1)
}

// write sets one register; it returns an exception code or 0.
func (s *Simulator) write(b *box, addr, v uint16) byte {
	switch addr {
	case regIcmax:
		if v < icmaxMin || v > noCurrent {
			return 3
		}
		b.icmax, b.timedOut = v, false
	case regModify:
		switch v {
		case modifyA1:
			b.mode, b.timedOut = 0, false
		case modifyE0:
			b.mode = 0xE0
		case modifyE2:
			b.mode = 0xE2
		case modifyF1:
			b.mode = 0xF1
		case modifyReset:
			b.mode, b.timedOut, b.icmax = 0, false, units(16)
		case modifyImbalance:
		default:
			return 3
		}
	case regSetup:
		if b.mode != 0xE2 || uint8(v) != b.id {
			return 3
		}
		switch v &^ 0x3FFF {
		case timeoutOff:
			b.timeout = false
		case timeoutOn:
			b.timeout = true
		default:
			return 3
		}
	default:
		return 2
	}
	s.log.Debug("register written", "id", b.id, "register", fmt.Sprintf("0x%04X", addr), "value", fmt.Sprintf("0x%04X", v))
	return 0
}
