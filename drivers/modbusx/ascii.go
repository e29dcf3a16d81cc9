package modbusx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/simonvetter/modbus"
)

// Modbus ASCII framing (Modbus over Serial Line v1.02 §2.5.2): a start
// character, then unit id, PDU and LRC as hex pairs, then CR LF.
// Requests start with ':'. Replies may start with ':' or '>': ABL's
// EVCC2/3 controllers answer with '>', so both are accepted. Hex digits
// may be lower case and a bare LF ends a line too.
const (
	ASCIIStart      = ':'
	ASCIIReplyStart = '>'
	// MaxASCIIFrame is the longest frame in characters, CR LF excluded:
	// start, then 2 × (unit + 253 PDU bytes + LRC).
	MaxASCIIFrame = 513
)

// Function codes the ASCII link sends.
const (
	fcReadCoils      = 0x01
	fcReadHolding    = 0x03
	fcReadInput      = 0x04
	fcWriteCoil      = 0x05
	fcWriteRegister  = 0x06
	fcWriteRegisters = 0x10
	exceptionFlag    = 0x80
)

// Frame errors; a link reports each as ErrBadFrame.
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

// EncodeASCIIFrame frames unit and pdu as one line: start (ASCIIStart
// for a request), upper-case hex, LRC, CR LF.
func EncodeASCIIFrame(start, unit byte, pdu []byte) []byte {
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

// DecodeASCIIFrame parses one line, with or without its CR LF (or LF),
// into its start character (':' or '>'), unit and PDU, checking the LRC.
// The PDU holds at least the function code.
func DecodeASCIIFrame(line []byte) (start, unit byte, pdu []byte, err error) {
	line = trimEOL(line)
	switch {
	case len(line) > MaxASCIIFrame:
		return 0, 0, nil, errFrameLong
	case len(line) == 0 || line[0] != ASCIIStart && line[0] != ASCIIReplyStart:
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

func trimEOL(line []byte) []byte {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	return line
}

// request builds a PDU: the function code, then 16-bit words.
func request(fc byte, words ...uint16) []byte {
	pdu := []byte{fc}
	for _, w := range words {
		pdu = binary.BigEndian.AppendUint16(pdu, w)
	}
	return pdu
}

// writeRegistersRequest is the PDU of an FC16 request.
func writeRegistersRequest(addr uint16, values []uint16) []byte {
	pdu := request(fcWriteRegisters, addr, uint16(len(values)))
	pdu = append(pdu, byte(2*len(values)))
	for _, v := range values {
		pdu = binary.BigEndian.AppendUint16(pdu, v)
	}
	return pdu
}

// badReply marks a reply that does not answer the request: classify
// makes it ErrBadFrame, as for the library's framings.
func badReply(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{modbus.ErrProtocolError}, args...)...)
}

// checkReply tells the reply to a request of function fc apart: an
// exception (as the library reports it), another function, or the reply.
func checkReply(fc byte, pdu []byte) error {
	switch {
	case len(pdu) == 0:
		return badReply("empty reply")
	case pdu[0] == fc|exceptionFlag && len(pdu) == 2:
		return exception(pdu[1])
	case pdu[0] == fc|exceptionFlag:
		return badReply("exception reply of %d bytes", len(pdu))
	case pdu[0] != fc:
		return badReply("reply of function 0x%02X to function 0x%02X", pdu[0], fc)
	}
	return nil
}

// libExceptions are the library's errors for the exception codes, so
// that classify maps an ASCII exception as it maps the library's.
var libExceptions = map[byte]modbus.Error{
	1: modbus.ErrIllegalFunction, 2: modbus.ErrIllegalDataAddress, 3: modbus.ErrIllegalDataValue,
	4: modbus.ErrServerDeviceFailure, 5: modbus.ErrAcknowledge, 6: modbus.ErrServerDeviceBusy,
	8: modbus.ErrMemoryParityError, 10: modbus.ErrGWPathUnavailable, 11: modbus.ErrGWTargetFailedToRespond,
}

// exception is the error the library returns for an exception code.
func exception(code byte) error {
	if e, ok := libExceptions[code]; ok {
		return e
	}
	return fmt.Errorf("unknown exception code (%d)", code)
}

// parseRegisters checks an FC3/FC4 reply for count registers.
func parseRegisters(pdu []byte, count uint16) ([]uint16, error) {
	if len(pdu) < 2 || int(pdu[1]) != 2*int(count) || len(pdu) != 2+2*int(count) {
		return nil, badReply("read reply carries %d bytes, asked for %d registers", max(len(pdu)-2, 0), count)
	}
	regs := make([]uint16, count)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(pdu[2+2*i:])
	}
	return regs, nil
}

// parseCoils checks an FC1 reply for count coils.
func parseCoils(pdu []byte, count uint16) ([]bool, error) {
	n := (int(count) + 7) / 8
	if len(pdu) < 2 || int(pdu[1]) != n || len(pdu) != 2+n {
		return nil, badReply("coil reply carries %d bytes, asked for %d coils", max(len(pdu)-2, 0), count)
	}
	out := make([]bool, count)
	for i := range out {
		out[i] = pdu[2+i/8]&(1<<(i%8)) != 0
	}
	return out, nil
}

// checkWriteReply checks an FC16 reply confirms addr and count.
func checkWriteReply(pdu []byte, addr, count uint16) error {
	if len(pdu) != 5 {
		return badReply("write reply of %d bytes", len(pdu))
	}
	if a, n := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:]); a != addr || n != count {
		return badReply("write reply confirms %d×%d, sent %d×%d", a, n, addr, count)
	}
	return nil
}

// checkEcho checks an FC5/FC6 reply repeats the request.
func checkEcho(req, pdu []byte) error {
	if string(req) != string(pdu) {
		return badReply("reply % X does not repeat the request % X", pdu, req)
	}
	return nil
}
