package modbustest

import (
	"io"
	"log"
	"net"
	"testing"
	"time"

	"github.com/simonvetter/modbus"
)

// read reads two holding registers from addr with a plain client.
func read(t *testing.T, addr string) ([]uint16, error) {
	t.Helper()
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: 300 * time.Millisecond,
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ReadRegisters(0, 2, modbus.HOLDING_REGISTER)
}

// TestPeersMisbehave checks each bad peer fails a plain client, so that
// a driver test passing against it means the driver caught the fault.
func TestPeersMisbehave(t *testing.T) {
	for name, addr := range map[string]string{
		"silent":          FakeServer(t, Silent),
		"not Modbus":      FakeServer(t, NotModbus),
		"short FC3":       FakeServer(t, AnswerFC3(7)),
		"raw silent":      RawPeer(t, func([]byte) []byte { return nil }),
		"raw HTTP":        RawPeer(t, HTTPReply),
		"raw short reply": RawPeer(t, ShortFC3),
		"closed":          ClosedPort(t),
	} {
		if regs, err := read(t, addr); err == nil {
			t.Errorf("%s: read %v", name, regs)
		}
	}
}

// TestAnswerFC3 checks the fake answers a well-formed frame: asked for as
// many registers as it has, a plain client reads them.
func TestAnswerFC3(t *testing.T) {
	regs, err := read(t, FakeServer(t, AnswerFC3(1, 2)))
	if err != nil || len(regs) != 2 || regs[0] != 1 || regs[1] != 2 {
		t.Fatalf("regs %v, err %v", regs, err)
	}
}

func TestClosedPortRefuses(t *testing.T) {
	if c, err := net.DialTimeout("tcp", ClosedPort(t), time.Second); err == nil {
		c.Close()
		t.Fatal("closed port accepted a connection")
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "three calls", func() bool { n++; return n == 3 })
}
