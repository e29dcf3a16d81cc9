package genericmodbus

import (
	"fmt"
	"slices"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// def is a checked definition, ready to drive a charger.
type def struct {
	unit     uint8
	framing  modbusx.Framing
	fc16     bool // one-register writes use FC16
	brand    string
	model    string
	modelReg *field
	serial   *field
	firmware *field
	idEvery  time.Duration

	status   *field
	statuses map[string]statusEntry

	power, limit, energy, session, temp, rssi *field
	currents, voltages                        []*field
	phasesFromCurrents                        bool
	enabled                                   *cond
	rules                                     []rule

	setCur                  *field
	curMin, curMax, curStep float64
	adopt                   bool
	adoptWhen               *cond
	enableMode              EnableMode
	enableReg               *field
	on, off                 []uint16
	phaseReg                *field
	phaseKeys               [2]string // raw keys of 1 and 3 phases
	one, three              []uint16
	switching               bool
	wdMode                  WatchdogMode
	wdPeriod                time.Duration
	wdReg                   *field
	wdValue                 []uint16

	// units lists the unit ids polled, the status register's first;
	// polls and idents are their read plans.
	units  []uint8
	polls  map[uint8]*modbusx.Plan
	idents map[uint8]*modbusx.Plan
}

type statusEntry struct {
	iec        charger.IECState
	status     charger.Status
	code, text string
	plugged    int8 // 1 yes, 0 no, -1 unchanged
}

type rule struct {
	*cond
	code, text string
	status     charger.Status
}

// Defaults of the parts a definition may leave out.
const (
	defaultIdentityRefresh = time.Hour
	defaultMinCurrent      = 6.0
	defaultMaxCurrent      = 32.0
	defaultStep            = 1.0
	highestCurrent         = 80.0 // A: what a config's max_current may be
)

// Validate checks the definition without I/O and lists every problem.
func (o *Options) Validate() error {
	_, err := compile(o)
	return err
}

func compile(o *Options) (*def, error) {
	c := &checker{}
	d := &def{}
	c.connection(o.Connection, d)
	c.identity(o.Identity, d)
	c.statusMap(o.Status, d)
	c.measurements(o.Measurements, d)
	for i := range o.Errors {
		c.errorRule(fmt.Sprintf("errors[%d]", i), &o.Errors[i], d)
	}
	c.setCurrent(o.SetCurrent, d)
	c.enable(o.Enable, d)
	c.phases(o.Phases, d)
	c.watchdog(o.Watchdog, d)
	c.overlaps()
	if len(c.errs) == 0 {
		c.plans(o.Connection, d)
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return d, nil
}

func (c *checker) connection(k Connection, d *def) {
	const p = "connection"
	c.maxRegs = modbusx.MaxRegisters
	switch {
	case k.UnitID < 0 || k.UnitID > 255:
		c.bad(p+".unit_id", "%d is outside 0..255", k.UnitID)
	case k.UnitID == 0 && k.Framing == Framing(modbusx.RTUOverTCP):
		c.bad(p+".unit_id", "0 is the RTU broadcast address, which devices never answer")
	}
	if k.MaxRegisters < 1 || k.MaxRegisters > modbusx.MaxRegisters {
		c.bad(p+".max_registers", "%d is outside 1..%d", k.MaxRegisters, modbusx.MaxRegisters)
	} else {
		c.maxRegs = uint16(k.MaxRegisters)
	}
	if k.MaxGap < 0 || k.MaxGap >= int(c.maxRegs) {
		c.bad(p+".max_gap", "%d is outside 0..%d", k.MaxGap, c.maxRegs-1)
	}
	for i, b := range k.Boundaries {
		if b < 1 || b > 0xffff {
			c.bad(fmt.Sprintf("%s.boundaries[%d]", p, i), "%d is outside 1..65535", b)
			continue
		}
		c.bounds = append(c.bounds, b)
	}
	if k.SingleWrite != 6 && k.SingleWrite != 16 {
		c.bad(p+".single_write_function", "%d is neither 6 nor 16", k.SingleWrite)
	}
	c.unit = uint8(max(0, min(k.UnitID, 255)))
	d.unit, d.framing, d.fc16 = c.unit, modbusx.Framing(k.Framing), k.SingleWrite == 16
}

func (c *checker) identity(k Identity, d *def) {
	id := func(name string, r *Register) *field {
		if r == nil {
			return nil
		}
		f := c.register("identity."+name, r, useAny)
		if f != nil {
			c.idents = append(c.idents, f)
		}
		return f
	}
	d.brand, d.model = k.Brand, k.Model
	d.modelReg, d.serial, d.firmware = id("model_register", k.ModelRegister), id("serial", k.Serial), id("firmware", k.Firmware)
	d.idEvery = k.Refresh
	switch {
	case k.Refresh == 0:
		d.idEvery = defaultIdentityRefresh
	case k.Refresh < time.Second:
		c.bad("identity.refresh", "%s is shorter than 1s", k.Refresh)
	}
}

func (c *checker) statusMap(k StatusMap, d *def) {
	if k.Register == nil {
		c.bad("status.register", "is required: every definition needs the register the charger's state is read from")
		return
	}
	d.status = c.read("status.register", k.Register, useAny)
	if len(k.Values) == 0 {
		c.bad("status.values", "is required: list every value of the status register with its IEC state")
	}
	d.statuses = map[string]statusEntry{}
	first := map[string]int{}
	for i, v := range k.Values {
		p := fmt.Sprintf("status.values[%d]", i)
		if v.IEC == "" && v.Status == "" {
			c.bad(p+".iec", "is required (A..F), or status for a value that is no pilot state")
		}
		if d.status == nil {
			continue
		}
		key, err := canonical(d.status.typ(), d.status.span().Count, v.Value)
		switch j, dup := first[key]; {
		case v.Value == "":
			c.bad(p+".value", "is required")
			continue
		case err != nil:
			c.bad(p+".value", "%v", err)
			continue
		case dup:
			c.bad(p+".value", "%q is already listed at status.values[%d]", v.Value, j)
			continue
		}
		first[key] = i
		st := charger.Status(v.Status)
		if st == "" {
			st = charger.StatusFromIEC(charger.IECState(v.IEC))
		}
		text := v.ErrorText
		if text == "" {
			text = v.ErrorCode
		}
		e := statusEntry{iec: charger.IECState(v.IEC), status: st, code: v.ErrorCode, text: text, plugged: -1}
		switch {
		case v.Plugged != nil && *v.Plugged:
			e.plugged = 1
		case v.Plugged != nil:
			e.plugged = 0
		case e.iec == charger.IECB || e.iec == charger.IECC || e.iec == charger.IECD:
			e.plugged = 1
		case e.iec == charger.IECA || e.iec == charger.IECE:
			e.plugged = 0
		}
		d.statuses[key] = e
	}
}

func (c *checker) measurements(k Measurements, d *def) {
	num := func(name string, r *Register) *field { return c.read("measurements."+name, r, useNumber) }
	d.power, d.limit = num("power", k.Power), num("current_limit", k.CurrentLimit)
	d.energy, d.session = num("energy_total", k.EnergyTotal), num("session_energy", k.SessionEnergy)
	d.temp, d.rssi = num("temperature", k.Temperature), num("rssi", k.RSSI)
	phases := func(name string, rs []Register) []*field {
		if len(rs) > 3 {
			c.bad("measurements."+name, "lists %d registers; at most 3 (L1..L3)", len(rs))
			return nil
		}
		var out []*field
		for i := range rs {
			out = append(out, num(fmt.Sprintf("%s[%d]", name, i), &rs[i]))
		}
		return out
	}
	d.currents, d.voltages = phases("currents", k.Currents), phases("voltages", k.Voltages)
	d.phasesFromCurrents = k.PhasesFromCurrents
	if k.PhasesFromCurrents && len(k.Currents) != 3 {
		c.bad("measurements.phases_from_currents", "needs the three currents L1..L3")
	}
	if k.Enabled != nil {
		d.enabled = c.condition("measurements.enabled", k.Enabled)
	}
}

func (c *checker) errorRule(p string, k *ErrorRule, d *def) {
	cd := c.condition(p, &k.Condition)
	if k.Code == "" {
		c.bad(p+".code", "is required")
	}
	if cd == nil {
		return
	}
	text := k.Text
	if text == "" {
		text = k.Code
	}
	d.rules = append(d.rules, rule{cond: cd, code: k.Code, text: text, status: charger.Status(k.Status)})
}

// plans merges each unit's registers into as few reads as the
// connection allows.
func (c *checker) plans(k Connection, d *def) {
	cfg := modbusx.PlanConfig{MaxCount: c.maxRegs, MaxGap: uint16(k.MaxGap)}
	for _, b := range c.bounds {
		cfg.Boundaries = append(cfg.Boundaries, modbusx.Boundary{Table: modbusx.Holding, Addr: uint16(b)},
			modbusx.Boundary{Table: modbusx.Input, Addr: uint16(b)})
	}
	d.units = []uint8{d.status.unit}
	d.polls, d.idents = map[uint8]*modbusx.Plan{}, map[uint8]*modbusx.Plan{}
	group := func(fs []*field, into map[uint8]*modbusx.Plan) {
		spans := map[uint8][]modbusx.Span{}
		for _, f := range fs {
			spans[f.unit] = append(spans[f.unit], f.span())
			if !slices.Contains(d.units, f.unit) {
				d.units = append(d.units, f.unit)
			}
		}
		for u, s := range spans {
			p, err := modbusx.NewPlan(cfg, s...)
			if err != nil {
				c.bad("connection", "unit %d: %v", u, err)
				continue
			}
			into[u] = p
		}
	}
	group(c.reads, d.polls)
	group(c.idents, d.idents)
	slices.Sort(d.units[1:])
}
