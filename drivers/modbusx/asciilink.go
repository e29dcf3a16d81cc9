package modbusx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"time"
)

// asciiLink speaks Modbus ASCII over TCP to a transparent RS485 gateway.
// Unlike the library's links it honours the request's context: when the
// caller gives up, the I/O is cut and the connection dropped, so a late
// reply is never taken for the next request's.
type asciiLink struct {
	nc      net.Conn
	r       *bufio.Reader
	unit    uint8
	timeout time.Duration
}

func dialASCII(ctx context.Context, addr string, timeout time.Duration) (*asciiLink, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &asciiLink{nc: nc, r: bufio.NewReaderSize(nc, MaxASCIIFrame+2), timeout: timeout}, nil
}

func (l *asciiLink) setUnit(id uint8) error { l.unit = id; return nil }

func (l *asciiLink) close() error { return l.nc.Close() }

// roundTrip sends pdu to the unit and returns the reply's PDU, checked
// for unit, function and exception. Some RS485 converters send the
// request back before the answer: one such echo is skipped.
func (l *asciiLink) roundTrip(ctx context.Context, pdu []byte) ([]byte, error) {
	if err := l.nc.SetDeadline(time.Now().Add(l.timeout)); err != nil {
		return nil, err
	}
	// ctx's end cuts the I/O; so the caller sees ctx.Err() set when the
	// I/O fails because of it.
	nc := l.nc
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)); close(fired) })
	defer func() {
		if !stop() {
			<-fired // the past deadline lands before the next request sets its own
		}
	}()
	frame := EncodeASCIIFrame(ASCIIStart, l.unit, pdu)
	if _, err := l.nc.Write(frame); err != nil {
		return nil, err
	}
	echoed := false
	for {
		line, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, badReply("%w: starts %q", errFrameLong, line[:min(len(line), 32)])
		}
		if err != nil {
			return nil, err
		}
		if !echoed && bytes.Equal(trimEOL(line), trimEOL(frame)) {
			echoed = true
			continue
		}
		_, unit, reply, err := DecodeASCIIFrame(line)
		if err != nil {
			return nil, badReply("%w", err)
		}
		if unit != l.unit {
			return nil, badReply("reply from unit %d", unit)
		}
		if err := checkReply(pdu[0], reply); err != nil {
			return nil, err
		}
		return reply, nil
	}
}

func (l *asciiLink) readRegisters(ctx context.Context, t Table, addr, count uint16) ([]uint16, error) {
	fc := byte(fcReadHolding)
	if t == Input {
		fc = fcReadInput
	}
	reply, err := l.roundTrip(ctx, request(fc, addr, count))
	if err != nil {
		return nil, err
	}
	return parseRegisters(reply, count)
}

func (l *asciiLink) writeRegister(ctx context.Context, addr, value uint16) error {
	req := request(fcWriteRegister, addr, value)
	reply, err := l.roundTrip(ctx, req)
	if err != nil {
		return err
	}
	return checkEcho(req, reply)
}

func (l *asciiLink) writeRegisters(ctx context.Context, addr uint16, values []uint16) error {
	reply, err := l.roundTrip(ctx, writeRegistersRequest(addr, values))
	if err != nil {
		return err
	}
	return checkWriteReply(reply, addr, uint16(len(values)))
}

func (l *asciiLink) readCoils(ctx context.Context, addr, count uint16) ([]bool, error) {
	reply, err := l.roundTrip(ctx, request(fcReadCoils, addr, count))
	if err != nil {
		return nil, err
	}
	return parseCoils(reply, count)
}

func (l *asciiLink) writeCoil(ctx context.Context, addr uint16, on bool) error {
	v := uint16(0)
	if on {
		v = 0xFF00
	}
	req := request(fcWriteCoil, addr, v)
	reply, err := l.roundTrip(ctx, req)
	if err != nil {
		return err
	}
	return checkEcho(req, reply)
}
