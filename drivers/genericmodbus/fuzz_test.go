package genericmodbus

import (
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// optionsOf cuts the options block out of a one-charger config file and
// dedents it.
func optionsOf(doc string) string {
	_, after, _ := strings.Cut(doc, "    options:\n")
	var b strings.Builder
	for _, l := range strings.SplitAfter(after, "\n") {
		b.WriteString(strings.TrimPrefix(l, "      "))
	}
	return b.String()
}

// FuzzDefinition decodes arbitrary options blocks with the real config
// loader: nothing may panic; a definition the loader accepts must build
// a driver, decode any registers and encode any current.
func FuzzDefinition(f *testing.F) {
	ex, err := os.ReadFile("examples/alfen.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(optionsOf(string(ex)), []byte{0x41, 0x00, 0x43, 0x32}, 10.0)
	f.Add(optionsOf(loaderBase), []byte{0, 2, 0xff, 0xff, 0x7f, 0xc0}, 6.5)
	f.Add("status: {register: {address: 0, type: string, length: 1}, values: [{value: A, iec: A}]}\n", []byte("A"), 0.0)
	f.Add("status:\n  register: {address: 65535, type: u16}\n  values: [{value: 0xffff, iec: F}]\n", []byte{0xff, 0xff}, -1.0)
	f.Add("connection: {max_registers: 1}\nstatus: {register: {address: 1, type: u64}}\n", []byte{}, math.NaN())
	f.Fuzz(func(t *testing.T, opts string, data []byte, amps float64) {
		var doc strings.Builder
		doc.WriteString("chargers:\n  - name: f\n    driver: generic_modbus\n    address: 127.0.0.1\n    options:\n")
		for _, l := range strings.Split(opts, "\n") {
			doc.WriteString("      " + l + "\n")
		}
		cfg, err := config.Parse([]byte(doc.String()), "fuzz.yaml", nil)
		if err != nil {
			return
		}
		o, ok := cfg.Chargers[0].Options.(*Options)
		if !ok {
			t.Fatalf("options decoded as %T", cfg.Chargers[0].Options)
		}
		d, err := compile(o)
		if err != nil {
			t.Fatalf("the loader accepted a definition compile rejects: %v", err)
		}
		c := &Charger{d: d, log: slog.New(slog.DiscardHandler), auxErr: map[uint8]string{}}
		blocks := map[uint8]*modbusx.Block{}
		for _, plans := range []map[uint8]*modbusx.Plan{d.polls, d.idents} {
			for u, p := range plans {
				if blocks[u] == nil {
					blocks[u] = modbusx.NewBlock()
				}
				for _, r := range p.Requests() {
					regs := make([]uint16, r.Count)
					for i := range regs {
						if len(data) > 1 {
							j := (2*i + int(r.Addr)) % (len(data) - 1)
							regs[i] = uint16(data[j])<<8 | uint16(data[j+1])
						}
					}
					blocks[u].Put(r.Table, r.Addr, regs)
				}
			}
		}
		st := c.decode(blocks)
		for _, v := range []*float64{st.Power, st.CurrentLimit, st.EnergyTotal, st.SessionEnergy, st.Temperature} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				t.Fatalf("non-finite reading in %+v", st)
			}
		}
		for _, f := range []*field{d.modelReg, d.serial, d.firmware} {
			if f != nil {
				_ = f.text(blocks[f.unit])
			}
		}
		if d.setCur != nil {
			_, _ = encode(d.setCur.v, amps)
		}
	})
}
