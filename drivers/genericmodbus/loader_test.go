package genericmodbus

import (
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/config"
)

const loaderBase = `chargers:
  - name: wb
    driver: generic_modbus
    address: 192.0.2.7
    options:
      connection: {unit_id: 3, framing: rtu_over_tcp}
      status:
        register: {table: input, address: 100, type: u16}
        values:
          - {value: 0, iec: A}
          - {value: 1, iec: B, status: paused}
      measurements:
        power: {address: 110, type: s32, word_order: low_first, multiplier: 0.1}
      set_current:
        register: {address: 200, type: u16, exponent: -1}
        step: 0.1
      watchdog: {mode: rewrite_setpoint, period: 20s}
`

// TestLoaderReportsLines: mistakes the YAML decoding catches are reported
// by the config loader with file, line and key path; semantic ones at the
// options block with the key path inside it.
func TestLoaderReportsLines(t *testing.T) {
	cfg, err := config.Parse([]byte(loaderBase), "wb.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Chargers[0].Options.(*Options)
	if o.Connection.UnitID != 3 || o.Connection.MaxRegisters != 125 || o.Status.Values[1].Status != "paused" {
		t.Fatalf("decoded %+v", o)
	}
	cases := []struct{ old, new, want string }{
		{"address: 110", "adress: 110", `wb.yaml:13:17: chargers[0].options.measurements.power.adress: unknown key "adress"`},
		{"type: s32", "type: int17", `wb.yaml:13:`},
		{"type: s32", "type: int17", `unknown type "int17" (want one of u16, s16`},
		{"iec: B", "iec: G", `wb.yaml:11:`},
		{"iec: B", "iec: G", `unknown IEC 61851 state "G"`},
		{"status: paused", "status: resting", `unknown status "resting"`},
		{"table: input", "table: coils", `wb.yaml:8:`},
		{"framing: rtu_over_tcp", "framing: udp", `unknown framing "udp"`},
		{"word_order: low_first", "word_order: little", `unknown order "little"`},
		{"period: 20s", "period: 20", "a duration needs a unit"},
		{"mode: rewrite_setpoint", "mode: toggle", `unknown watchdog mode "toggle"`},
		{"address: 200", "address: 1.5", `wb.yaml:15:`},
		{"step: 0.1", "step: 0.05", "wb.yaml:5:5: chargers[0].options: generic_modbus definition: set_current.step: 0.05 A is not a multiple of the register's resolution of 0.1 A"},
		{"{unit_id: 3, framing: rtu_over_tcp}", "{unit_id: 0, framing: rtu_over_tcp}", "connection.unit_id: 0 is the RTU broadcast address"},
	}
	for _, tc := range cases {
		doc := strings.Replace(loaderBase, tc.old, tc.new, 1)
		_, err := config.Parse([]byte(doc), "wb.yaml", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: got %v\nwant %q", tc.old, tc.new, err, tc.want)
		}
	}
}

// TestExamplesLoad: every shipped example passes the loader and plans at
// most 3 reads a poll.
func TestExamplesLoad(t *testing.T) {
	for _, name := range exampleNames(t) {
		cc, o := loadExample(t, name)
		d, err := compile(&o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := 0
		for _, p := range d.polls {
			n += p.Len()
		}
		if n > 3 {
			t.Errorf("%s: %d reads a poll, want at most 3", name, n)
		}
		t.Logf("%s (%s): %d reads a poll", name, cc.Name, n)
	}
}
