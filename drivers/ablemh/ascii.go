package ablemh

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Modbus ASCII framing (Modbus over Serial Line v1.02 §2.5.2, as ABL §1
// uses it): a start character, the address, PDU and LRC as upper-case
// hex pairs, then CR LF. The controller starts its replies with '>'
// instead of ':' (ABL §1.3).
const (
	startRequest  = ':'
	startReply    = '>'
	maxFrameChars = 513 // start, 2 × (address + 253 PDU bytes + LRC), CR LF
	fcRead        = 0x03
	fcWrite       = 0x10
	exceptionFlag = 0x80
	maxReadRegs   = 125
	maxWriteRegs  = 123
)

// Frame errors; the transport reports each as modbusx.ErrBadFrame.
var (
	errFrameStart = errors.New("frame does not start with ':' or '>'")
	errFrameHex   = errors.New("frame is not hex pairs")
	errFrameShort = errors.New("frame too short")
	errFrameLong  = errors.New("frame too long")
	errLRC        = errors.New("LRC mismatch")
)

const hexDigits = "0123456789ABCDEF"

// lrc is the longitudinal redundancy check: the two's complement of the
// byte sum.
func lrc(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

// encodeFrame frames unit and pdu for the wire, starting with start.
func encodeFrame(start, unit byte, pdu []byte) []byte {
	out := make([]byte, 0, 5+2*(len(pdu)+2))
	out = append(out, start)
	put := func(b byte) { out = append(out, hexDigits[b>>4], hexDigits[b&0xF]) }
	sum := unit
	put(unit)
	for _, b := range pdu {
		put(b)
		sum += b
	}
	put(-sum)
	return append(out, '\r', '\n')
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeFrame parses one line (CR LF, or LF alone, already stripped or
// not) into its start character, unit and PDU, checking the LRC.
func decodeFrame(line []byte) (start, unit byte, pdu []byte, err error) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	switch {
	case len(line) > maxFrameChars:
		return 0, 0, nil, errFrameLong
	case len(line) == 0 || line[0] != startRequest && line[0] != startReply:
		return 0, 0, nil, errFrameStart
	case (len(line)-1)%2 != 0:
		return 0, 0, nil, errFrameHex
	case len(line) < 1+2*3: // unit, function, LRC
		return 0, 0, nil, errFrameShort
	}
	raw := make([]byte, (len(line)-1)/2)
	for i := range raw {
		hi, ok1 := unhex(line[1+2*i])
		lo, ok2 := unhex(line[2+2*i])
		if !ok1 || !ok2 {
			return 0, 0, nil, errFrameHex
		}
		raw[i] = hi<<4 | lo
	}
	body := raw[:len(raw)-1]
	if lrc(body) != raw[len(raw)-1] {
		return 0, 0, nil, errLRC
	}
	return line[0], body[0], body[1:], nil
}

// readRequest is the PDU of an FC3 request.
func readRequest(addr, count uint16) []byte {
	pdu := []byte{fcRead}
	pdu = binary.BigEndian.AppendUint16(pdu, addr)
	return binary.BigEndian.AppendUint16(pdu, count)
}

// writeRequest is the PDU of an FC16 request.
func writeRequest(addr uint16, regs []uint16) []byte {
	pdu := []byte{fcWrite}
	pdu = binary.BigEndian.AppendUint16(pdu, addr)
	pdu = binary.BigEndian.AppendUint16(pdu, uint16(len(regs)))
	pdu = append(pdu, byte(2*len(regs)))
	for _, r := range regs {
		pdu = binary.BigEndian.AppendUint16(pdu, r)
	}
	return pdu
}

// exceptionReply tells an exception reply for function fc apart: it
// returns the exception code, or 0 when pdu is no exception.
func exceptionReply(fc byte, pdu []byte) (byte, error) {
	if len(pdu) == 0 || pdu[0] != fc|exceptionFlag {
		return 0, nil
	}
	if len(pdu) != 2 {
		return 0, fmt.Errorf("exception reply of %d bytes", len(pdu))
	}
	return pdu[1], nil
}

// parseReadReply checks an FC3 reply for count registers and returns them.
func parseReadReply(pdu []byte, count uint16) ([]uint16, error) {
	switch {
	case len(pdu) < 2 || pdu[0] != fcRead:
		return nil, fmt.Errorf("reply is not a read reply (function 0x%02X)", first(pdu))
	case int(pdu[1]) != 2*int(count) || len(pdu) != 2+2*int(count):
		return nil, fmt.Errorf("read reply carries %d bytes, asked for %d registers", len(pdu)-2, count)
	}
	regs := make([]uint16, count)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(pdu[2+2*i:])
	}
	return regs, nil
}

// parseWriteReply checks an FC16 reply echoes address and count.
func parseWriteReply(pdu []byte, addr, count uint16) error {
	if len(pdu) != 5 || pdu[0] != fcWrite {
		return fmt.Errorf("reply is not a write reply (function 0x%02X, %d bytes)", first(pdu), len(pdu))
	}
	if a, n := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:]); a != addr || n != count {
		return fmt.Errorf("write reply confirms %d×%d, sent %d×%d", a, n, addr, count)
	}
	return nil
}

func first(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
