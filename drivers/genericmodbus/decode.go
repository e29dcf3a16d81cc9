package genericmodbus

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/evbridge/evbridge/drivers/modbusx"
)

// eval tests the condition; ok is false when its register is unreadable
// or unavailable.
func (k *cond) eval(b *modbusx.Block) (match, ok bool) {
	key, err := k.key(b)
	if err != nil || k.na[key] {
		return false, false
	}
	switch {
	case k.atLeast != nil:
		v, ok := k.float(b)
		return ok && v >= *k.atLeast, ok
	case k.mask != 0:
		var u uint64
		if k.typ().signed() {
			i, _ := strconv.ParseInt(key, 10, 64)
			u = uint64(i)
		} else {
			u, _ = strconv.ParseUint(key, 10, 64)
		}
		return u&k.mask != 0, true
	}
	return k.values[key] != k.negate, true
}

// decode builds the state from the blocks a poll read, and tracks what
// the driver follows across polls (adoption, session energy).
func (c *Charger) decode(blocks map[uint8]*modbusx.Block) charger.State {
	d := c.d
	at := func(f *field) *modbusx.Block {
		if f == nil {
			return nil
		}
		return blocks[f.unit]
	}
	num := func(f *field) *float64 {
		if v, ok := f.float(at(f)); ok {
			return &v
		}
		return nil
	}
	st := charger.State{IEC: charger.IECUnknown, Status: charger.StatusUnknown}
	key, err := d.status.key(at(d.status))
	readable := err == nil && !d.status.na[key]
	entry, known := d.statuses[key]
	known = known && readable
	if known {
		st.IEC, st.Status = entry.iec, entry.status
	}
	if d.enabled != nil {
		if on, ok := d.enabled.eval(at(d.enabled.field)); ok {
			st.Enabled = &on
		}
	}
	c.mu.Lock()
	if st.Enabled == nil && c.haveEn {
		st.Enabled = charger.Ptr(c.enabled)
	}
	c.mu.Unlock()
	if st.Status == charger.StatusConnected && st.Enabled != nil && !*st.Enabled {
		st.Status = charger.StatusPaused
	}
	c.errors(&st, blocks, entry, known, readable, key)

	st.CurrentLimit, st.Power = num(d.limit), num(d.power)
	st.Temperature, st.RSSI = num(d.temp), num(d.rssi)
	st.Currents, st.Voltages = perPhase(d.currents, at), perPhase(d.voltages, at)
	if d.phaseReg != nil {
		if k, err := d.phaseReg.key(at(d.phaseReg)); err == nil {
			switch k {
			case d.phaseKeys[0]:
				st.Phases = charger.Ptr(1)
			case d.phaseKeys[1]:
				st.Phases = charger.Ptr(3)
			}
		}
	}
	if st.Phases == nil && d.phasesFromCurrents && st.Status == charger.StatusCharging && len(st.Currents) == 3 {
		n := 0
		for _, a := range st.Currents {
			if a >= 1 {
				n++
			}
		}
		if n == 1 || n == 3 {
			st.Phases = charger.Ptr(n)
		}
	}
	if e := num(d.energy); e != nil && *e >= 0 {
		st.EnergyTotal = e
	}
	if e := num(d.session); e != nil && *e >= 0 {
		st.SessionEnergy = e
	}
	adopt := d.adopt
	if d.adoptWhen != nil {
		ok, known := d.adoptWhen.eval(at(d.adoptWhen.field))
		adopt = ok && known
	}
	plugged := int8(-1)
	if known {
		plugged = entry.plugged
	}
	c.track(&st, adopt, plugged, at(d.setCur))
	return st
}

// errors sets the error code: the status value's, else the first error
// rule that holds, else an unknown status value.
func (c *Charger) errors(st *charger.State, blocks map[uint8]*modbusx.Block, entry statusEntry, known, readable bool, key string) {
	if known && entry.code != "" {
		st.ErrorCode, st.ErrorText = entry.code, entry.text
		return
	}
	for _, r := range c.d.rules {
		b := blocks[r.unit]
		if m, ok := r.eval(b); ok && m {
			raw, _ := r.key(b)
			st.ErrorCode = strings.ReplaceAll(r.code, "{value}", raw)
			st.ErrorText = strings.ReplaceAll(r.text, "{value}", raw)
			if r.status != "" {
				st.Status = r.status
			}
			return
		}
	}
	if readable && !known && key != "" {
		st.ErrorCode, st.ErrorText = "status", fmt.Sprintf("unknown status value %q", key)
	}
}

// perPhase reads L1..L3, cut at the first unavailable value (a
// single-phase meter may leave L2 and L3 unavailable).
func perPhase(fs []*field, at func(*field) *modbusx.Block) []float64 {
	var out []float64
	for _, f := range fs {
		v, ok := f.float(at(f))
		if !ok {
			break
		}
		out = append(out, v)
	}
	return out
}

// track adopts the device's setpoint at start (set_current.adopt) and
// counts the session energy from the total since plug-in.
func (c *Charger) track(st *charger.State, adopt bool, plug int8, setBlock *modbusx.Block) {
	d := c.d
	c.mu.Lock()
	defer c.mu.Unlock()
	if adopt && !c.known {
		if v, ok := d.setCur.float(setBlock); ok && v >= 0 {
			c.known = true
			if v >= d.curMin {
				c.amps = v
			}
			if d.enableMode == EnableCurrentZero {
				c.enabled, c.haveEn = v >= d.curMin, true
			}
			c.log.Info("adopting the setpoint the charger holds", "amps", v)
		}
	}
	if plug >= 0 {
		plugged := plug == 1
		if st.EnergyTotal != nil && plugged && c.pluggedKnown && !c.plugged {
			c.baseKWh, c.haveBase = *st.EnergyTotal, true
		}
		c.plugged, c.pluggedKnown = plugged, true
	}
	if d.session == nil && c.haveBase && st.EnergyTotal != nil && *st.EnergyTotal >= c.baseKWh {
		st.SessionEnergy = charger.Ptr(*st.EnergyTotal - c.baseKWh)
	}
}
