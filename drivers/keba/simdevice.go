package keba

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// Station defaults: "Curr user" after start and unplug is 63000 mA (report
// 2 table); a failsafe timeout is 0 or 10..600 s; currtime delays go up to
// 860400 s (guide §3.2.6, §3.3.3).
const (
	currUserDefault = 63000
	maxDelay        = 860400
	// eTotalBase is the simulated station's lifetime energy before this
	// run, 0.1 Wh (1234.5 kWh).
	eTotalBase = 12_345_000
)

// device is the station's state; the Simulator's mutex guards it.
type device struct {
	hw int // "Curr HW", mA: the DIP switches
	// Settings, changed by commands at once.
	currUser     int  // mA
	fromCurrtime bool // currUser came from currtime: reset on unplug
	timerCurr    int  // pending currtime value, mA
	timerAt      time.Time
	timerOn      bool
	enableUser   bool
	fsTimeout    int // s; 0 off
	fsCurr       int // mA
	tripped      bool
	lastCmd      time.Time // last curr, currtime or ena: the failsafe's clock
	plugged      bool
	booted       time.Time

	// Logic results, refreshed by tick.
	view  stationView
	ticks uint64
}

// stationView is what the reports show; tick refreshes it.
type stationView struct {
	State, Plug         int
	EnableSys           bool
	MaxCurr             int // mA offered to the car
	Currents            [3]float64
	Voltages            [3]float64
	Power               float64 // W
	SessionWh, TotalWh  float64
	SessionTenthWh, ETl int64 // as the reports show them
}

func newDevice(cfg SimConfig, now time.Time) device {
	return device{hw: cfg.HWCurrent, currUser: currUserDefault, enableUser: true, booted: now, lastCmd: now}
}

// offered is the current the pilot signals now, mA.
func (d *device) offered() int {
	switch {
	case d.tripped:
		return d.fsCurr
	case !d.enableUser:
		return 0
	}
	return min(d.currUser, d.hw)
}

// tick runs the station's logic: timers, failsafe, what the car is offered,
// and the meter.
func (d *device) tick(now time.Time, car *simcar.Car) {
	if d.timerOn && !now.Before(d.timerAt) {
		d.timerOn = false
		d.currUser, d.fromCurrtime = d.timerCurr, true
		if d.timerCurr > 0 {
			d.enableUser = true // currtime ends an "ena 0" (guide §3.3.1)
		}
	}
	if d.fsTimeout > 0 && !d.tripped && now.Sub(d.lastCmd) >= time.Duration(d.fsTimeout)*time.Second {
		d.tripped = true
	}
	off := d.offered()
	if off > 0 && off < minMilliAmps {
		off = 0
	}
	car.Offer(float64(off)/1000, 3, off > 0)
	r := car.Read()
	v := stationView{Plug: 3, EnableSys: d.enableUser && !d.tripped, MaxCurr: d.offered()}
	switch {
	case !r.Plugged:
		v.State = 1
	case r.Charging:
		v.State, v.Plug = 3, 7
	case off > 0:
		v.State, v.Plug = 2, 7
	default:
		v.State, v.Plug = 1, 7
	}
	if !v.EnableSys && !d.tripped {
		v.MaxCurr = 0
	}
	v.Currents, v.Voltages, v.Power = r.Currents, r.Voltages, r.Power
	v.SessionWh, v.TotalWh = r.SessionWh, r.TotalWh
	v.SessionTenthWh = int64(math.Floor(r.SessionWh * 10))
	v.ETl = eTotalBase + int64(math.Floor(r.TotalWh*10))
	d.view = v
	d.ticks++
}

// plug follows the cable; pulling it ends currtime's setting.
func (d *device) plug(plugged bool) {
	if d.plugged && !plugged && d.fromCurrtime {
		d.currUser, d.fromCurrtime, d.timerOn = currUserDefault, false, false
	}
	d.plugged = plugged
}

// handle applies one command and returns the answer, nil for none.
func (d *device) handle(cmd string, cfg SimConfig, now time.Time) []byte {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return nil
	}
	arg := func(i int) (int, bool) {
		if i >= len(f) {
			return 0, false
		}
		v, err := strconv.Atoi(f[i])
		return v, err == nil
	}
	ok := []byte("TCH-OK :done\n")
	switch f[0] {
	case "i":
		return mustJSON(map[string]any{"Firmware": cfg.Firmware})
	case "report":
		n, _ := arg(1)
		return d.report(n, cfg, now)
	case "ena":
		v, _ := arg(1)
		d.enableUser, d.lastCmd = v == 1, now // other values disable (P20 guide §2.7)
		if d.enableUser {
			d.tripped = false
		}
		return ok
	case "curr":
		v, good := arg(1)
		if !good || v < minMilliAmps || v > currUserDefault {
			v = minMilliAmps // P20 guide §2.8: invalid values set 6000 mA
		}
		d.currUser, d.fromCurrtime, d.lastCmd = v, false, now
		return ok
	case "currtime":
		c, g1 := arg(1)
		t, g2 := arg(2)
		d.lastCmd = now
		switch {
		case !g1 || !g2 || t < 0 || t > maxDelay || c != 0 && (c < minMilliAmps || c > currUserDefault):
			// discarded, yet confirmed: TCH-OK confirms receipt only
		case c == 0 && t == 0:
			d.timerOn = false
		default:
			d.timerCurr, d.timerAt, d.timerOn = c, now.Add(time.Duration(t)*time.Second), true
		}
		return ok
	case "failsafe":
		t, g1 := arg(1)
		c, g2 := arg(2)
		if g1 && g2 && (t == 0 || t >= 10 && t <= 600) && (c == 0 || c >= minMilliAmps && c <= currUserDefault) {
			d.fsTimeout, d.fsCurr, d.lastCmd = t, c, now
			if t == 0 {
				d.tripped = false
			}
		}
		return ok
	}
	return nil // unknown: no answer (no guide says what a station answers)
}

// report renders report n as the station sends it: ID as a string, the
// rest as numbers.
func (d *device) report(n int, cfg SimConfig, now time.Time) []byte {
	sec := int64(now.Sub(d.booted) / time.Second)
	v := d.view
	switch n {
	case 1:
		return mustJSON(map[string]any{"ID": "1", "Product": cfg.Product, "Serial": cfg.Serial,
			"Firmware": cfg.Firmware, "COM-module": 0, "Backend": 0, "timeQ": 0, "Sec": sec})
	case 2:
		tmoCT := 0
		if d.timerOn {
			tmoCT = max(0, int(math.Ceil(d.timerAt.Sub(now).Seconds()))) // due: applied at the next tick
		}
		duty := 1000
		if v.MaxCurr > 0 {
			duty = int(math.Round(float64(v.MaxCurr) / 60)) // IEC 61851: % = A / 0.6
		}
		return mustJSON(map[string]any{"ID": "2", "State": v.State, "Error1": 0, "Error2": 0,
			"Plug": v.Plug, "AuthON": 0, "Authreq": 0, "Enable sys": b2i(v.EnableSys),
			"Enable user": b2i(d.enableUser), "Max curr": v.MaxCurr, "Max curr %": duty,
			"Curr HW": d.hw, "Curr user": d.currUser, "Curr FS": d.fsCurr, "Tmo FS": d.fsTimeout,
			"Curr timer": d.timerCurr * b2i(d.timerOn), "Tmo CT": tmoCT, "Setenergy": 0,
			"Output": 0, "Input": 0, "Serial": cfg.Serial, "Sec": sec})
	case 3:
		pf := 0
		if v.Power > 0 {
			pf = 990
		}
		m := map[string]any{"ID": "3", "P": int64(math.Round(v.Power * 1000)), "PF": pf,
			"E pres": v.SessionTenthWh, "E total": v.ETl, "Serial": cfg.Serial, "Sec": sec}
		for k := range 3 {
			m[fmt.Sprintf("U%d", k+1)] = int(math.Round(v.Voltages[k]))
			m[fmt.Sprintf("I%d", k+1)] = int(math.Round(v.Currents[k] * 1000))
		}
		return mustJSON(m)
	}
	return nil
}

// changes lists the status-message keys (guide §3.4) whose value differs
// between two views.
func changes(before, after stationView) map[string]any {
	m := map[string]any{}
	if before.State != after.State {
		m["State"] = after.State
		if before.State == 3 {
			m["E pres"] = after.SessionTenthWh
		}
	}
	if before.Plug != after.Plug {
		m["Plug"] = after.Plug
	}
	if before.EnableSys != after.EnableSys {
		m["Enable sys"] = b2i(after.EnableSys)
	}
	if before.MaxCurr != after.MaxCurr {
		m["Max curr"] = after.MaxCurr
	}
	return m
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mustJSON encodes a map of numbers and strings, which cannot fail.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
