package ablemh

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// ABL §1.3's example answer and an answer recorded on an eMH1 (evcc
// issue #526), as they come off the wire.
const (
	ablExample = ">01030401011237AD\r\n"
	emh1Report = ">01030A2EB2910B03E803E803E8B5\r\n"
)

func TestDecodeKnownFrames(t *testing.T) {
	start, unit, pdu, err := decodeFrame([]byte(ablExample))
	if err != nil || start != '>' || unit != 1 {
		t.Fatalf("%q: %c %d %v", ablExample, start, unit, err)
	}
	regs, err := parseReadReply(pdu, 2)
	if err != nil || !slices.Equal(regs, []uint16{0x0101, 0x1237}) {
		t.Fatalf("regs %04X, %v", regs, err)
	}
	var id identity
	if err := id.putFlags(regs); err != nil {
		t.Fatal(err)
	}
	if present, known := id.meter(); !present || !known || id.deviceID != 1 || id.flags&flagUpstreamTimeout != 0 {
		t.Fatalf("identity %+v", id)
	}
	_, _, pdu, err = decodeFrame([]byte(emh1Report))
	if err != nil {
		t.Fatal(err)
	}
	regs, err = parseReadReply(pdu, 5)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeReport(regs)
	if err != nil || r.code != 0xB2 || !r.connected || r.duty != 0x10B || r.ict != [3]uint16{noCurrent, noCurrent, noCurrent} {
		t.Fatalf("report %+v, %v", r, err)
	}
}

func TestEncodeFrame(t *testing.T) {
	// Set Icmax to 10 A: ABL's own value 0x00A6.
	got := encodeFrame(startRequest, 1, writeRequest(regIcmax, []uint16{units(10)}))
	if want := ":0110001400010200A632\r\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := encodeFrame(startRequest, 1, readRequest(regReport, 5)); string(got) != ":0103002E0005C9\r\n" {
		t.Fatalf("read frame %q", got)
	}
	// As evcc's trace shows it: disable, 0x03E8.
	if got := encodeFrame(startRequest, 1, writeRequest(regIcmax, []uint16{noCurrent})); string(got) != ":0110001400010203E8ED\r\n" {
		t.Fatalf("disable frame %q", got)
	}
	// Lower-case hex and a bare LF are read too.
	if _, unit, pdu, err := decodeFrame([]byte(":0103002e0005c9\n")); err != nil || unit != 1 || len(pdu) != 5 {
		t.Fatalf("lower case: %v", err)
	}
}

func TestDecodeBadFrames(t *testing.T) {
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
		if _, _, _, err := decodeFrame([]byte(line)); !errors.Is(err, want) {
			t.Errorf("%q: err = %v, want %v", line, err, want)
		}
	}
}

func TestParseReplies(t *testing.T) {
	if _, err := parseReadReply([]byte{fcRead, 4, 0, 1, 0, 2}, 3); err == nil {
		t.Error("short read accepted")
	}
	if _, err := parseReadReply([]byte{fcWrite, 2, 0, 1}, 1); err == nil {
		t.Error("write reply taken for a read")
	}
	if err := parseWriteReply([]byte{fcWrite, 0, 0x14, 0, 1}, regIcmax, 1); err != nil {
		t.Error(err)
	}
	if err := parseWriteReply([]byte{fcWrite, 0, 0x15, 0, 1}, regIcmax, 1); err == nil {
		t.Error("write reply for another register accepted")
	}
	if code, err := exceptionReply(fcRead, []byte{0x83, 2}); code != 2 || err != nil {
		t.Errorf("exception %d %v", code, err)
	}
	if _, err := exceptionReply(fcRead, []byte{0x83, 2, 0}); err == nil {
		t.Error("long exception accepted")
	}
}

// FuzzDecodeFrame feeds arbitrary lines to the frame decoder and the
// reply parsers: none may panic, and a frame that decodes must encode
// back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{ablExample, emh1Report, ">011000140001DA\r\n", ">01830236\r\n", "HTTP/1.1 200 OK\r\n", ":", ">"} {
		f.Add([]byte(s), uint16(2))
	}
	f.Fuzz(func(t *testing.T, line []byte, count uint16) {
		start, unit, pdu, err := decodeFrame(line)
		if err != nil {
			return
		}
		again := encodeFrame(start, unit, pdu)
		if _, u2, p2, err := decodeFrame(again); err != nil || u2 != unit || !bytes.Equal(p2, pdu) {
			t.Fatalf("%q: re-encoded %q does not decode the same: %v", line, again, err)
		}
		_, _ = exceptionReply(fcRead, pdu)
		if regs, err := parseReadReply(pdu, count%130); err == nil && len(regs) != int(count%130) {
			t.Fatalf("%d registers for %d", len(regs), count%130)
		}
		_ = parseWriteReply(pdu, count, 1)
		if regs, err := parseReadReply(pdu, reportLen); err == nil {
			if r, err := decodeReport(regs); err == nil {
				_ = r.state(&identity{}, 0, false)
			}
		}
	})
}
