package heidelberg

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/evbridge/evbridge/drivers/modbusx/modbussim"
)

// rtuServer is a transparent RS485 gateway: it passes RTU frames (unit,
// PDU, CRC-16 low byte first) between TCP and the boxes. As on a real
// bus, a frame with a bad CRC or for a unit no box has gets no answer.
// simonvetter/modbus serves Modbus TCP only, hence this small server on
// modbussim's stream plumbing.
type rtuServer struct {
	s *Simulator
}

// startRTU serves addr in place of the library's server; it returns the
// bound address and how to stop.
func (s *Simulator) startRTU(addr string) (string, func() error, error) {
	g := &rtuServer{s: s}
	return modbussim.ListenStream(addr, g.serve)
}

// serve answers the frames of one connection until it breaks or a
// dropped request closes it.
func (g *rtuServer) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	client := conn.RemoteAddr().String()
	for {
		frame, err := readFrame(conn, r)
		if err != nil {
			return
		}
		if len(frame) < 4 || crc16(frame[:len(frame)-2]) != binary.LittleEndian.Uint16(frame[len(frame)-2:]) {
			continue // a box ignores a corrupt frame
		}
		res, ok := g.answer(frame[0], frame[1:len(frame)-2], client)
		if !ok {
			if res == nil {
				continue
			}
			return
		}
		res = binary.LittleEndian.AppendUint16(res, crc16(res))
		if _, err := conn.Write(res); err != nil {
			return
		}
	}
}

// readFrame reads one RTU frame; its length follows from the function
// code. For an unknown code it takes what arrives within 20 ms, as a
// device tells frames apart by the silence between them.
func readFrame(conn net.Conn, r *bufio.Reader) ([]byte, error) {
	conn.SetReadDeadline(time.Time{})
	head := make([]byte, 2)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	rest := 0
	switch head[1] {
	case 1, 2, 3, 4, 5, 6:
		rest = 6 // address, count or value, CRC
	case 15, 16:
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, err
		}
		head = append(head, hdr...)
		rest = int(hdr[4]) + 2
	default:
		conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		buf := make([]byte, 256)
		n, err := r.Read(buf)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return nil, err
		}
		return append(head, buf[:n]...), nil
	}
	body := make([]byte, rest)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head, body...), nil
}

// answer builds the reply frame without CRC. ok false with a nil reply
// means silence; with a reply, close the connection.
func (g *rtuServer) answer(unit byte, pdu []byte, client string) (res []byte, ok bool) {
	fc := pdu[0]
	fail := func(code byte) ([]byte, bool) { return []byte{unit, fc | exceptionFlag, code}, true }
	be := binary.BigEndian
	var addr, qty uint16
	var args []uint16
	switch {
	case (fc == fcReadHolding || fc == fcReadInput) && len(pdu) == 5:
		addr, qty = be.Uint16(pdu[1:]), be.Uint16(pdu[3:])
		if qty == 0 || qty > maxReadCount {
			return fail(illegalValue)
		}
	case fc == fcWriteSingle && len(pdu) == 5:
		addr, qty, args = be.Uint16(pdu[1:]), 1, []uint16{be.Uint16(pdu[3:])}
	case fc == fcWriteMulti && len(pdu) >= 6:
		addr, qty = be.Uint16(pdu[1:]), be.Uint16(pdu[3:])
		if qty == 0 || qty > maxWriteCount || int(pdu[5]) != 2*int(qty) || len(pdu) != 6+2*int(qty) {
			return fail(illegalValue)
		}
		for i := range int(qty) {
			args = append(args, be.Uint16(pdu[6+2*i:]))
		}
	default:
		if _, present := g.box(unit); !present {
			return nil, false
		}
		return fail(illegalFunc)
	}
	regs, err := g.s.request(unit, fc, addr, qty, args, client)
	switch {
	case err == errNoUnit:
		return nil, false
	case errors.Is(err, modbus.ErrProtocolError):
		return []byte{}, false
	case errors.Is(err, modbus.ErrIllegalDataAddress):
		return fail(illegalAddress)
	case errors.Is(err, modbus.ErrIllegalDataValue):
		return fail(illegalValue)
	case errors.Is(err, modbus.ErrServerDeviceBusy):
		return fail(deviceBusy)
	case err != nil:
		return fail(illegalFunc)
	}
	switch fc {
	case fcReadHolding, fcReadInput:
		res = []byte{unit, fc, byte(2 * len(regs))}
		for _, v := range regs {
			res = be.AppendUint16(res, v)
		}
		return res, true
	}
	return append([]byte{unit}, pdu[:5]...), true // FC6 echoes, FC16 confirms address and count
}

func (g *rtuServer) box(unit byte) (*box, bool) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	b, ok := g.s.boxes[unit]
	return b, ok
}

// crc16 is the Modbus RTU CRC (polynomial 0xA001 reflected, start 0xFFFF).
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
