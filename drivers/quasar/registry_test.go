package quasar

import (
	"context"
	"strings"
	"testing"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/bridge/config"
	"github.com/evbridge/evbridge/drivers/modbusx/modbustest"
)

func TestOptions(t *testing.T) {
	bad := []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.UnitID = 0 }, "unit_id 0"},
		{func(o *Options) { o.UnitID = 256 }, "unit_id 256"},
		{func(o *Options) { o.IdleTimeout = -1 }, "idle_timeout -1"},
		{func(o *Options) { o.IdleTimeout = 1 }, "idle_timeout 1"},
		{func(o *Options) { o.IdleTimeout = 3601 }, "idle_timeout 3601"},
	}
	for _, tc := range bad {
		o := DefaultOptions()
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", o, err, tc.want)
		}
	}
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.IdleTimeout = 0
	c, err := New(charger.Settings{Address: "127.0.0.1"}, o, nil, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if iv := c.RefreshInterval(); iv.Seconds() != 7.5 {
		t.Fatalf("timeout 0 assumes 30 s: interval %v", iv)
	}
}

func TestRegistry(t *testing.T) {
	d, o := modbustest.Registered(t, "wallbox_quasar", DefaultOptions())
	ch := modbustest.Instance(t, d, o)
	if _, ok := ch.(charger.PhaseSwitcher); ok {
		t.Error("the Quasar 1 has no phase switching")
	}
	if _, ok := ch.(charger.Watchdogged); !ok {
		t.Error("watchdog missing")
	}
	if _, ok := ch.(charger.CurrentSetter); !ok {
		t.Error("current setter missing")
	}
	modbustest.RejectsOptions(t, d, &Options{UnitID: 300})
}

func TestRegisteredSimulatorRuns(t *testing.T) {
	modbustest.SimulatorRuns(t, "wallbox_quasar", dial)
}

// TestThroughConfigLoader: the options go through the daemon's own
// config loader (strictly), and the driver it configures polls the
// simulator.
func TestThroughConfigLoader(t *testing.T) {
	s := startSim(t, SimConfig{})
	s.Plug(true)
	doc := `chargers:
  - name: garage
    driver: wallbox_quasar
    address: ` + s.Addr() + `
    max_current: 20
    options:
      unit_id: 1
      idle_timeout: 45
`
	cfg, err := config.Parse([]byte(doc), "quasar.yaml", charger.Default)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Chargers[0]
	if o := cc.Options.(*Options); o.UnitID != 1 || o.IdleTimeout != 45 {
		t.Fatalf("decoded %+v", o)
	}
	d, _ := charger.Default.Lookup(cc.Driver)
	ch, err := d.New(charger.Settings{Name: cc.Name, Address: cc.Address, Timeout: cc.Timeout, MaxCurrent: cc.MaxCurrent}, cc.Options, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.(charger.Closer).Close()
	st, err := ch.Poll(context.Background())
	if err != nil || st.IEC != charger.IECB {
		t.Fatalf("poll through the loader's driver: %v %+v", err, st)
	}
	if _, hi, _ := ch.(charger.CurrentSetter).CurrentRange(); hi != 20 {
		t.Fatalf("max current %v, want 20", hi)
	}
	for bad, want := range map[string]string{
		strings.Replace(doc, "idle_timeout: 45", "idle_timout: 45", 1): "idle_timout",
		strings.Replace(doc, "idle_timeout: 45", "idle_timeout: 1", 1): "idle_timeout 1",
		strings.Replace(doc, "unit_id: 1", "unit_id: one", 1):          "unit_id",
		strings.Replace(doc, "unit_id: 1", "unit_id: 0", 1):            "unit_id 0",
	} {
		if _, err := config.Parse([]byte(bad), "quasar.yaml", charger.Default); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", want, err)
		}
	}
}
