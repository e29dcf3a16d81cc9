package genericmodbus

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/alfen"
)

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

// rtuGateway accepts RTU frames over TCP and forwards them to a Modbus
// TCP server, as an RS485 gateway in front of a device would.
func rtuGateway(t testing.TB, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go relayRTU(c, target)
		}
	}()
	return l.Addr().String()
}

func relayRTU(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	for tid := uint16(1); ; tid++ {
		req := make([]byte, 8) // unit, fc, 4 bytes, then CRC or FC16's count
		if _, err := io.ReadFull(c, req[:7]); err != nil {
			return
		}
		if req[1] == 16 {
			req = append(req[:7], make([]byte, int(req[6])+2)...)
			if _, err := io.ReadFull(c, req[7:]); err != nil {
				return
			}
		} else if _, err := io.ReadFull(c, req[7:8]); err != nil {
			return
		}
		body := req[:len(req)-2]
		if crc16(body) != binary.LittleEndian.Uint16(req[len(req)-2:]) {
			return
		}
		mbap := binary.BigEndian.AppendUint16(nil, tid)
		mbap = binary.BigEndian.AppendUint16(mbap, 0)
		mbap = binary.BigEndian.AppendUint16(mbap, uint16(len(body)))
		if _, err := s.Write(append(mbap, body...)); err != nil {
			return
		}
		hdr := make([]byte, 6)
		if _, err := io.ReadFull(s, hdr); err != nil {
			return
		}
		res := make([]byte, binary.BigEndian.Uint16(hdr[4:]))
		if _, err := io.ReadFull(s, res); err != nil {
			return
		}
		if _, err := c.Write(binary.LittleEndian.AppendUint16(res, crc16(res))); err != nil {
			return
		}
	}
}

// TestRTUOverTCP: the Alfen example with RTU framing, through a gateway,
// reads what the built-in driver reads over TCP, and writes through it.
func TestRTUOverTCP(t *testing.T) {
	sim := startAlfenSim(t, newClock())
	_, o := loadExample(t, "alfen.yaml")
	o.Connection.Framing = Framing(1)
	s := charger.Settings{Name: "t", Address: rtuGateway(t, sim.Addr()), Timeout: 3 * time.Second, MaxCurrent: 16}
	g, err := New(s, o, nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s.Address = sim.Addr()
	n, err := alfen.New(s, alfen.DefaultOptions(), nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	if err := g.SetCurrent(ctx, 9); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second poll has the temperature on both
		sg, err := g.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sn, err := n.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffState(sn, sg, "Temperature"); len(d) > 0 || *sg.CurrentLimit != 9 {
			t.Fatalf("over RTU: %v\n%s", d, asJSON(sg))
		}
	}
}
