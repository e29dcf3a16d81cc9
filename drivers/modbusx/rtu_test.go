package modbusx

import (
	"context"
	"io"
	"net"
	"testing"
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

// rtuGateway answers FC3 requests in RTU framing over TCP, as a
// transparent RS485 gateway would: register i holds unit*100 + i.
func rtuGateway(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req := make([]byte, 8)
		for {
			if _, err := io.ReadFull(conn, req); err != nil {
				return
			}
			if crc16(req[:6]) != uint16(req[6])|uint16(req[7])<<8 || req[1] != 3 {
				return
			}
			addr, n := uint16(req[2])<<8|uint16(req[3]), int(req[4])<<8|int(req[5])
			res := []byte{req[0], 3, byte(2 * n)}
			for i := range n {
				v := uint16(req[0])*100 + addr + uint16(i)
				res = append(res, byte(v>>8), byte(v))
			}
			crc := crc16(res)
			res = append(res, byte(crc), byte(crc>>8))
			if _, err := conn.Write(res); err != nil {
				return
			}
		}
	}()
	return l.Addr().String()
}

func TestRTUOverTCP(t *testing.T) {
	addr := rtuGateway(t)
	p := newPool(t, PoolConfig{})
	var cs []*Client
	for unit := uint8(1); unit <= 2; unit++ {
		c, err := p.Client(Endpoint{Address: addr, Framing: RTUOverTCP, Unit: unit})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	for _, c := range cs {
		r, err := c.Read(context.Background(), Holding, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		if base := uint16(c.Endpoint().Unit) * 100; r[0] != base+10 || r[2] != base+12 {
			t.Fatalf("unit %d read %v", c.Endpoint().Unit, r)
		}
	}
	if s := p.Stats(); s.Dials != 1 {
		t.Fatalf("dials = %d, want one shared connection", s.Dials)
	}
}
