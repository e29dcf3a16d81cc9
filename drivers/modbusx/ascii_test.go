package modbusx

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/simonvetter/modbus"
)

// ABL's example answer (EVCC2/3 API subset §1.3) and an answer recorded
// on an ABL eMH1 (evcc issue #526), as they come off the wire: replies
// starting with '>'.
const (
	ablExample = ">01030401011237AD\r\n"
	emh1Report = ">01030A2EB2910B03E803E803E8B5\r\n"
)

func TestASCIIFrameEncode(t *testing.T) {
	for _, c := range []struct {
		pdu  []byte
		want string
	}{
		{writeRegistersRequest(0x14, []uint16{0x00A6}), ":0110001400010200A632\r\n"},
		{writeRegistersRequest(0x14, []uint16{0x03E8}), ":0110001400010203E8ED\r\n"},
		{request(fcReadHolding, 0x2E, 5), ":0103002E0005C9\r\n"},
	} {
		if got := EncodeASCIIFrame(ASCIIStart, 1, c.pdu); string(got) != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestASCIIFrameDecode(t *testing.T) {
	start, unit, pdu, err := DecodeASCIIFrame([]byte(ablExample))
	if err != nil || start != '>' || unit != 1 {
		t.Fatalf("%q: %c %d %v", ablExample, start, unit, err)
	}
	if regs, err := parseRegisters(pdu, 2); err != nil || !slices.Equal(regs, []uint16{0x0101, 0x1237}) {
		t.Fatalf("regs %04X, %v", regs, err)
	}
	_, _, pdu, err = DecodeASCIIFrame([]byte(emh1Report))
	if regs, err2 := parseRegisters(pdu, 5); err != nil || err2 != nil || regs[0] != 0x2EB2 || regs[4] != 0x03E8 {
		t.Fatalf("regs %04X, %v %v", regs, err, err2)
	}
	// Lower-case hex and a bare LF are read too.
	if _, unit, pdu, err := DecodeASCIIFrame([]byte(":0103002e0005c9\n")); err != nil || unit != 1 || len(pdu) != 5 {
		t.Fatalf("lower case: %v", err)
	}
}

func TestASCIIFrameDecodeBad(t *testing.T) {
	long := append([]byte{':'}, bytes.Repeat([]byte("00"), 300)...)
	for line, want := range map[string]error{
		"":                          errFrameStart,
		"\r\n":                      errFrameStart,
		"HTTP/1.1 400 Bad Request":  errFrameStart,
		">01030401011237AE\r\n":     errLRC,
		">0103040101123\r\n":        errFrameHex,
		">0103\r\n":                 errFrameShort,
		">01G30401011237AD\r\n":     errFrameHex,
		"\x00\xff\x10garbage\r\n":   errFrameStart,
		">01030A2EB2910B03E8\r\n":   errLRC,
		string(long):                errFrameLong,
		">0103 0401011237AD\r\n":    errFrameHex,
		">01030401011237AD\x00\r\n": errFrameHex,
	} {
		if _, _, _, err := DecodeASCIIFrame([]byte(line)); !errors.Is(err, want) {
			t.Errorf("%q: err = %v, want %v", line, err, want)
		}
	}
}

func TestASCIIReplyChecks(t *testing.T) {
	isBad := func(err error) bool { return errors.Is(err, modbus.ErrProtocolError) }
	if _, err := parseRegisters([]byte{fcReadHolding, 4, 0, 1, 0, 2}, 3); !isBad(err) {
		t.Errorf("short read: %v", err)
	}
	if err := checkWriteReply([]byte{fcWriteRegisters, 0, 0x14, 0, 1}, 0x14, 1); err != nil {
		t.Error(err)
	}
	if err := checkWriteReply([]byte{fcWriteRegisters, 0, 0x15, 0, 1}, 0x14, 1); !isBad(err) {
		t.Errorf("write reply for another register: %v", err)
	}
	if err := checkReply(fcReadHolding, []byte{fcWriteRegisters, 2, 0, 1}); !isBad(err) {
		t.Errorf("write reply taken for a read: %v", err)
	}
	if err := checkReply(fcReadHolding, []byte{0x83, 2}); err != modbus.ErrIllegalDataAddress {
		t.Errorf("exception: %v", err)
	}
	if err := checkReply(fcReadHolding, []byte{0x83, 2, 0}); !isBad(err) {
		t.Errorf("long exception: %v", err)
	}
	if c, err := parseCoils([]byte{fcReadCoils, 2, 0x05, 0x01}, 9); err != nil || !slices.Equal(c, []bool{true, false, true, false, false, false, false, false, true}) {
		t.Errorf("coils %v, %v", c, err)
	}
	if _, err := parseCoils([]byte{fcReadCoils, 1, 0x05}, 9); !isBad(err) {
		t.Errorf("short coils: %v", err)
	}
	if err := checkEcho(request(fcWriteCoil, 3, 0xFF00), request(fcWriteCoil, 3, 0)); !isBad(err) {
		t.Errorf("coil echo differs: %v", err)
	}
}

// FuzzDecodeASCIIFrame feeds arbitrary lines to the frame decoder and
// the reply checks: none may panic, and a frame that decodes must encode
// back to the same bytes.
func FuzzDecodeASCIIFrame(f *testing.F) {
	for _, s := range []string{ablExample, emh1Report, ">011000140001DA\r\n", ">01830236\r\n", "HTTP/1.1 200 OK\r\n", ":", ">"} {
		f.Add([]byte(s), uint16(2))
	}
	f.Fuzz(func(t *testing.T, line []byte, count uint16) {
		start, unit, pdu, err := DecodeASCIIFrame(line)
		if err != nil {
			return
		}
		again := EncodeASCIIFrame(start, unit, pdu)
		if _, u2, p2, err := DecodeASCIIFrame(again); err != nil || u2 != unit || !bytes.Equal(p2, pdu) {
			t.Fatalf("%q: re-encoded %q does not decode the same: %v", line, again, err)
		}
		_ = checkReply(fcReadHolding, pdu)
		if regs, err := parseRegisters(pdu, count%130); err == nil && len(regs) != int(count%130) {
			t.Fatalf("%d registers for %d", len(regs), count%130)
		}
		if c, err := parseCoils(pdu, count%2001); err == nil && len(c) != int(count%2001) {
			t.Fatalf("%d coils for %d", len(c), count%2001)
		}
		_ = checkWriteReply(pdu, count, 1)
	})
}
