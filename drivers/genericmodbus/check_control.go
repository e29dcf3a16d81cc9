package genericmodbus

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/evbridge/evbridge/drivers/modbusx"
)

func (c *checker) setCurrent(k *SetCurrent, d *def) {
	if k == nil {
		return
	}
	const p = "set_current"
	f := c.write(p+".register", &k.Register, useWrite)
	if f != nil && k.Adopt {
		c.reads = append(c.reads, f)
	}
	d.setCur, d.adopt = f, k.Adopt
	if k.AdoptWhen != nil {
		if !k.Adopt {
			c.bad(p+".adopt_when", "needs adopt: true")
		}
		d.adoptWhen = c.condition(p+".adopt_when", k.AdoptWhen)
	}
	d.curMin, d.curMax, d.curStep = or(k.Min, defaultMinCurrent), or(k.Max, defaultMaxCurrent), or(k.Step, defaultStep)
	finite := func(name string, v float64) bool {
		ok := !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
		if !ok {
			c.bad(p+"."+name, "%v is not a current in amperes", v)
		}
		return ok
	}
	if !finite("min", d.curMin) || !finite("max", d.curMax) || !finite("step", d.curStep) {
		return
	}
	switch {
	case d.curMax <= d.curMin:
		c.bad(p+".max", "%g A is not above min (%g A)", d.curMax, d.curMin)
	case d.curMax > highestCurrent:
		c.bad(p+".max", "%g A is above %g A", d.curMax, highestCurrent)
	case d.curStep > d.curMax-d.curMin:
		c.bad(p+".step", "%g A is larger than the range %g..%g A", d.curStep, d.curMin, d.curMax)
	}
	if f == nil {
		return
	}
	for _, a := range []struct {
		name string
		v    float64
	}{{"min", d.curMin}, {"max", d.curMax}, {"min", 0}} {
		if _, err := encode(f.v, a.v); err != nil {
			c.bad(p+"."+a.name, "%v", err)
			return
		}
	}
	if f.typ().integer() {
		res := modbusx.Scale(1, f.v.Exp, f.v.Mul)
		if n := d.curStep / res; math.Abs(n-math.Round(n)) > 1e-6 {
			c.bad(p+".step", "%g A is not a multiple of the register's resolution of %g A", d.curStep, res)
		}
	}
}

func or(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func (c *checker) enable(k *Enable, d *def) {
	if k == nil {
		return
	}
	d.enableMode = k.Mode
	switch k.Mode {
	case EnableNone:
		c.bad("enable.mode", "is required: register or current_zero")
	case EnableCurrentZero:
		if d.setCur == nil {
			c.bad("enable.mode", "current_zero needs set_current")
		}
		if k.Register != nil || k.On != nil || k.Off != nil {
			c.bad("enable", "register, on and off apply only to mode register")
		}
	case EnableRegister:
		if k.Register == nil {
			c.bad("enable.register", "is required for mode register")
			return
		}
		d.enableReg = c.write("enable.register", k.Register, useRaw)
		d.on, d.off = c.raw("enable.on", d.enableReg, k.On), c.raw("enable.off", d.enableReg, k.Off)
		if d.on != nil && d.off != nil && slices.Equal(d.on, d.off) {
			c.bad("enable.off", "is the same as on")
		}
	}
}

func (c *checker) phases(k *Phases, d *def) {
	if k == nil {
		return
	}
	u := useRaw
	if !k.Switching {
		u = useNumber
	}
	f := c.read("phases.register", &k.Register, u)
	if f != nil && k.Switching {
		c.writes = append(c.writes, f)
	}
	d.phaseReg, d.switching = f, k.Switching
	d.one, d.three = c.raw("phases.one", f, k.One), c.raw("phases.three", f, k.Three)
	if f == nil || d.one == nil || d.three == nil {
		return
	}
	if *k.One == *k.Three {
		c.bad("phases.three", "is the same as one")
	}
	for i, x := range []float64{*k.One, *k.Three} {
		key, err := canonical(f.typ(), f.span().Count, strconv.FormatFloat(x, 'g', -1, 64))
		if err != nil {
			c.bad([]string{"phases.one", "phases.three"}[i], "%v", err)
		}
		d.phaseKeys[i] = key
	}
}

func (c *checker) watchdog(k *Watchdog, d *def) {
	if k == nil {
		return
	}
	d.wdMode, d.wdPeriod = k.Mode, k.Period
	if k.Period < time.Second || k.Period > 24*time.Hour {
		c.bad("watchdog.period", "%s is outside 1s..24h (set it to a third of the device's timeout)", k.Period)
	}
	switch k.Mode {
	case WatchdogNone:
		c.bad("watchdog.mode", "is required: rewrite_setpoint or write_value")
	case WatchdogRewrite:
		if d.setCur == nil {
			c.bad("watchdog.mode", "rewrite_setpoint needs set_current")
		}
		if k.Register != nil || k.Value != nil {
			c.bad("watchdog", "register and value apply only to mode write_value")
		}
	case WatchdogWrite:
		if k.Register == nil {
			c.bad("watchdog.register", "is required for mode write_value")
			return
		}
		d.wdReg = c.write("watchdog.register", k.Register, useRaw)
		d.wdValue = c.raw("watchdog.value", d.wdReg, k.Value)
	}
}
