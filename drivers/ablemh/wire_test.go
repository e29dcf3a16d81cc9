package ablemh

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

// ABL §1.3's example answer and an answer recorded on an eMH1 (evcc
// issue #526), as they come off the wire.
const (
	ablExample = ">01030401011237AD\r\n"
	emh1Report = ">01030A2EB2910B03E803E803E8B5\r\n"
)

// TestWireFrames: the driver's requests are ABL's own frames (writes are
// FC16, even of one register), and it decodes recorded answers.
func TestWireFrames(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	addr := modbustest.RawPeer(t, func(req []byte) []byte {
		mu.Lock()
		sent = append(sent, string(req))
		mu.Unlock()
		_, _, pdu, err := modbusx.DecodeASCIIFrame(req)
		switch {
		case err != nil:
			return nil
		case pdu[0] == fcWrite:
			return modbusx.EncodeASCIIFrame('>', 1, pdu[:5])
		case string(pdu[:3]) == "\x03\x00\x2E":
			return []byte(emh1Report)
		case string(pdu[:3]) == "\x03\x00\x01":
			return []byte(ablExample)
		}
		return modbusx.EncodeASCIIFrame('>', 1, []byte{pdu[0] | exceptionFlag, 2})
	})
	c := dial(t, addr, 3*time.Second)
	ctx := context.Background()
	st := poll(t, c) // report, then identity
	if st.Status != charger.StatusConnected || st.IEC != charger.IECB || !*st.Enabled || *st.CurrentLimit != 16.02 || st.Firmware != "1.2" {
		t.Fatalf("state %+v", st)
	}
	if !slices.Equal(st.Currents, []float64{0, 0, 0}) || *st.Power != 0 {
		t.Fatalf("currents %v", st.Currents)
	}
	if err := c.SetCurrent(ctx, 10); err != nil { // ABL's own example: 0x00A6
		t.Fatal(err)
	}
	if err := c.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{":0103002E0005C9\r\n", ":010300010002F9\r\n", ":0110001400010200A632\r\n", ":0110001400010203E8ED\r\n"}
	if !slices.Equal(sent, want) {
		t.Fatalf("sent %q, want %q", sent, want)
	}
}

// FuzzReport feeds arbitrary status answers to the report decoder and
// the state mapping: neither may panic, nor make an impossible current
// or power.
func FuzzReport(f *testing.F) {
	f.Add([]byte{0x2E, 0xB2, 0x91, 0x0B, 0x03, 0xE8, 0x03, 0xE8, 0x03, 0xE8}, uint8(1<<5))
	f.Add([]byte{0x2E, 0xF4, 0x03, 0xE8, 0, 0, 0, 0, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		regs := make([]uint16, len(data)/2)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		r, err := decodeReport(regs)
		if err != nil {
			return
		}
		for _, st := range []charger.State{r.state(&identity{}, 0, false),
			r.state(&identity{flags: flags, flagsOK: true}, uint16(flags)<<8, true)} {
			if st.CurrentLimit != nil && (math.IsNaN(*st.CurrentLimit) || *st.CurrentLimit < 0 || *st.CurrentLimit > 80) {
				t.Fatalf("offered current %v from %x", *st.CurrentLimit, data)
			}
			for _, a := range st.Currents {
				if math.IsNaN(a) || a < 0 || a > 409.5 {
					t.Fatalf("phase current %v from %x", a, data)
				}
			}
			if st.Power != nil && (math.IsNaN(*st.Power) || *st.Power < 0) {
				t.Fatalf("power %v from %x", *st.Power, data)
			}
		}
	})
}
