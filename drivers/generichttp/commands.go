package generichttp

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"text/template"

	"github.com/evbridge/evbridge/bridge/charger"
)

// withCapabilities wraps d in a type with exactly the optional interfaces
// the definition has commands for, since the core discovers capabilities
// by interface.
func (d *Driver) withCapabilities() charger.Charger {
	c, e, p := d.p.setCurrent != nil, d.p.enable != nil, d.p.setPhases != nil
	sc, en, ph := currentCap{d}, enableCap{d}, phaseCap{d}
	switch {
	case c && e && p:
		return &struct {
			*Driver
			currentCap
			enableCap
			phaseCap
		}{d, sc, en, ph}
	case c && e:
		return &struct {
			*Driver
			currentCap
			enableCap
		}{d, sc, en}
	case c && p:
		return &struct {
			*Driver
			currentCap
			phaseCap
		}{d, sc, ph}
	case e && p:
		return &struct {
			*Driver
			enableCap
			phaseCap
		}{d, en, ph}
	case c:
		return &struct {
			*Driver
			currentCap
		}{d, sc}
	case e:
		return &struct {
			*Driver
			enableCap
		}{d, en}
	case p:
		return &struct {
			*Driver
			phaseCap
		}{d, ph}
	}
	return d
}

// driver returns the Driver inside any wrapper.
func (d *Driver) driver() *Driver { return d }

type currentCap struct{ d *Driver }

// CurrentRange is the definition's range, its top lowered to the charger's
// max_current (last poll) and to the configured maximum, on the step grid.
func (c currentCap) CurrentRange() (min, max, step float64) {
	d := c.d
	r := d.p.rng
	d.mu.Lock()
	dev := d.devMax
	d.mu.Unlock()
	max = r.Max
	if dev >= r.Min && dev < max {
		max = dev
	}
	if d.maxCur > 0 && d.maxCur < max {
		max = r.Min + math.Floor((d.maxCur-r.Min)/r.Step+1e-9)*r.Step
	}
	return r.Min, max, r.Step
}

// SetCurrent rounds amps down to the step grid (rounding up could exceed a
// limit the core computed) and refuses values outside CurrentRange before
// anything is sent.
func (c currentCap) SetCurrent(ctx context.Context, amps float64) error {
	lo, hi, step := c.CurrentRange()
	if math.IsNaN(amps) || math.IsInf(amps, 0) {
		return fmt.Errorf("generic_http: set current %v A: %w: not a number", amps, charger.ErrRejected)
	}
	v := lo + math.Floor((amps-lo)/step+1e-6)*step
	v = math.Round(v*1e6) / 1e6
	if v < lo || v > hi+1e-9 {
		return fmt.Errorf("generic_http: set current %v A: %w: outside %v..%v A", amps, charger.ErrRejected, lo, hi)
	}
	if err := c.d.run(ctx, c.d.p.setCurrent, v); err != nil {
		return fmt.Errorf("generic_http: set current %v A: %w", v, err)
	}
	return nil
}

type enableCap struct{ d *Driver }

// SetEnabled sends commands.enable with {{.Value}} true or false.
func (c enableCap) SetEnabled(ctx context.Context, enabled bool) error {
	if err := c.d.run(ctx, c.d.p.enable, enabled); err != nil {
		return fmt.Errorf("generic_http: set enabled %t: %w", enabled, err)
	}
	return nil
}

type phaseCap struct{ d *Driver }

// SetPhases sends commands.set_phases with {{.Value}} 1 or 3.
func (c phaseCap) SetPhases(ctx context.Context, phases int) error {
	if phases != 1 && phases != 3 {
		return fmt.Errorf("generic_http: set phases %d: %w: only 1 or 3", phases, charger.ErrNotSupported)
	}
	if err := c.d.run(ctx, c.d.p.setPhases, phases); err != nil {
		return fmt.Errorf("generic_http: set phases %d: %w", phases, err)
	}
	return nil
}

// run renders and sends one command and checks its reply.
func (d *Driver) run(ctx context.Context, c *command, val any) error {
	data := struct{ Value any }{val}
	path, err := render(c.path, data)
	if err != nil {
		return err
	}
	if _, perr := url.ParseRequestURI(path); perr != nil || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n") {
		return fmt.Errorf("the definition's path rendered to %q, not a request path", truncate(path))
	}
	body, err := render(c.body, data)
	if err != nil {
		return err
	}
	hdr := d.p.headers.Clone()
	for k, t := range c.headers {
		v, err := render(t, data)
		if err != nil {
			return err
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("header %s rendered to more than one line", k)
		}
		hdr.Set(k, v)
	}
	code, reply, err := d.do(ctx, c.method, path, hdr, body)
	if err != nil {
		return err
	}
	return check(c, code, reply)
}

func render(t *template.Template, data any) (string, error) {
	if t == nil {
		return "", nil
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render %s: %v", t.Name(), err)
	}
	return b.String(), nil
}

// check decides from a command's reply whether it worked: with a check,
// the value at its path must read as it says, whatever the status (many
// chargers answer a refusal with 4xx/5xx and a JSON reason); without, the
// status decides, 4xx meaning refused.
func check(c *command, code int, reply []byte) error {
	if c.check != nil {
		if doc, err := decodeJSON(reply); err == nil {
			if v, found := c.check.Find(doc); found {
				if got := textOf(v); got != c.equals {
					return fmt.Errorf("%w: %s is %q", charger.ErrRejected, c.check.String(), truncate(got))
				}
				return nil
			}
		}
		if statusOK(c.ok, code) {
			return fmt.Errorf("%w: reply has no %s: %s", charger.ErrBadReply, c.check.String(), snippet(reply))
		}
	} else if statusOK(c.ok, code) {
		return nil
	}
	if code >= 400 && code < 500 && code != http.StatusNotFound {
		return fmt.Errorf("%w: http %d: %s", charger.ErrRejected, code, snippet(reply))
	}
	return fmt.Errorf("%w: http %d: %s", charger.ErrBadReply, code, snippet(reply))
}

var (
	_ charger.Charger          = (*Driver)(nil)
	_ charger.Watchdogged      = (*Driver)(nil)
	_ charger.Closer           = (*Driver)(nil)
	_ charger.CurrentSetter    = currentCap{}
	_ charger.Enabler          = enableCap{}
	_ charger.PhaseSwitcher    = phaseCap{}
	_ charger.OptionsValidator = (*Options)(nil)
)
