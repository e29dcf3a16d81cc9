package ablemh

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestConnectionDroppedMidRead(t *testing.T) {
	modbustest.DroppedMidRead(t, fixture, 2, "abl_emh: read device 1")
}

func TestDeviceBusy(t *testing.T) { modbustest.DeviceBusy(t, fixture) }

func TestSlowDevice(t *testing.T) {
	modbustest.SlowDevice(t, fixture, func(c *Charger) {
		if err := c.SetCurrent(context.Background(), 10); !errors.Is(err, modbusx.ErrTimeout) {
			t.Errorf("write to a slow device: %v", err)
		}
	})
}

func TestRequestsPerPoll(t *testing.T) {
	s := startSim(t, SimConfig{})
	// The first two polls read one identity block each.
	modbustest.RequestsPerPoll(t, s, newDriver(t, s.Addr(), testPool(t), nil), 5, 2, 2, 1)
	// An error state adds the system flags.
	s.SetState(1, 0xF2)
	modbustest.RequestsPerPoll(t, s, newDriver(t, s.Addr(), testPool(t), nil), 3, 3, 3, 2)
}

// reply answers every request with one frame of unit and pdu.
func reply(start byte, unit byte, pdu []byte) func([]byte) []byte {
	return func([]byte) []byte { return modbusx.EncodeASCIIFrame(start, unit, pdu) }
}

// TestBadPeers: the driver's errors for peers that are not a controller.
// The framing faults (LRC, truncation, garbage, other ids, exceptions,
// ':' replies) are modbusx's tests; these are the controller's own.
func TestBadPeers(t *testing.T) {
	shortRead := []byte{fcRead, 4, regReport, 0xA1, 0, 0}
	modbustest.BadPeers(t, dial, "abl_emh: ",
		modbustest.Peer{Name: "port that never answers", Addr: modbustest.FakeServer(t, modbustest.Silent), Want: modbusx.ErrTimeout},
		modbustest.Peer{Name: "web server", Addr: modbustest.RawPeer(t, modbustest.HTTPReply), Want: charger.ErrBadReply},
		modbustest.Peer{Name: "web server, first line only", Addr: modbustest.FakeServer(t, modbustest.NotModbus), Want: modbusx.ErrBadFrame},
		modbustest.Peer{Name: "wrong word count", Addr: modbustest.RawPeer(t, reply('>', 1, shortRead)), Want: charger.ErrBadReply},
		modbustest.Peer{Name: "reply to another register", Addr: modbustest.RawPeer(t, reply('>', 1, []byte{fcRead, 10, 0x14, 0xA1, 0, 0, 0, 0, 0, 0, 0, 0})), Want: charger.ErrBadReply},
		modbustest.Peer{Name: "exception", Addr: modbustest.RawPeer(t, reply('>', 1, []byte{fcRead | exceptionFlag, 2})), Want: modbusx.ErrIllegalAddress},
		modbustest.Peer{Name: "peer closes at once", Addr: modbustest.RawPeer(t, func([]byte) []byte { return nil }), Want: modbusx.ErrTimeout},
		modbustest.Peer{Name: "closed port", Addr: modbustest.ClosedPort(t), Want: modbusx.ErrUnreachable},
	)
}

func TestSilentPortTimesOutEveryRequest(t *testing.T) {
	c := modbustest.SilentPort(t, dial)
	if err := c.SetEnabled(context.Background(), false); !errors.Is(err, modbusx.ErrTimeout) {
		t.Errorf("write: %v", err)
	}
	// Two failures in a row start the pool's backoff: a request in it is
	// refused as unreachable; the next one after it times out again.
	waitFor(t, "refresh to time out", func() bool {
		err := c.Refresh(context.Background())
		if !errors.Is(err, modbusx.ErrTimeout) && !errors.Is(err, modbusx.ErrUnreachable) {
			t.Fatalf("refresh: %v", err)
		}
		return errors.Is(err, modbusx.ErrTimeout)
	})
}

func TestClosedPortUnreachable(t *testing.T) { modbustest.ClosedPortUnreachable(t, dial) }

// TestLineNoise: garbage, a truncated frame or a bad LRC before an
// answer fails that request as a bad frame; the next one works.
func TestLineNoise(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	poll(t, c)
	for _, noise := range []string{"\x00\x13garbage\r\n", ">01030A2E\r\n", ">01030401011237AE\r\n"} {
		s.Noise([]byte(noise))
		if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrBadFrame) || !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("%q: err = %v, want a bad frame", noise, err)
		}
		waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
	}
}

// TestEchoingGateway: a converter that sends the request back first.
func TestEchoingGateway(t *testing.T) {
	s := startSim(t, SimConfig{Echo: true})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	if st := poll(t, c); st.Status != charger.StatusNoVehicle {
		t.Fatalf("state %+v", st)
	}
	if err := c.SetCurrent(context.Background(), 7); err != nil || s.Snapshot().Boxes[1].Icmax != units(7) {
		t.Fatalf("write through an echo: %v", err)
	}
}

// TestHungDeviceAndCancel: a request the gateway never answers ends at
// the caller's context, and the driver recovers.
func TestHungDeviceAndCancel(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	poll(t, c)
	s.Hang(1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Poll(ctx); !errors.Is(err, modbusx.ErrTimeout) || !strings.HasPrefix(err.Error(), "abl_emh: ") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.Poll(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	waitFor(t, "recovery", func() bool { _, err := c.Poll(context.Background()); return err == nil })
}

func TestClosedClient(t *testing.T) {
	s := startSim(t, SimConfig{})
	c := newDriver(t, s.Addr(), testPool(t), nil)
	c.Close()
	if _, err := c.Poll(context.Background()); !errors.Is(err, modbusx.ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkPoll polls a simulated controller over loopback and reports
// the requests one poll takes.
func BenchmarkPoll(b *testing.B) { modbustest.BenchmarkPoll(b, fixture, 2) }
