package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/solar"
	"github.com/evbridge/evbridge/drivers/simcar"
)

// cmdSimulate replays a recorded PV/house trace through the real solar
// controller and a car model, and prints the energy figures of issue 4
// next to an evcc-like baseline.
func cmdSimulate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", stderr)
	trace := fs.String("trace", "", "5-min Solar-Log CSV (time,output,consumption), or a folder of Home Assistant state CSVs (pv_power.csv, battery_power.csv, battery_soc.csv)")
	house := fs.String("house", "", "with a Home Assistant folder: the Solar-Log CSV whose house load is used for the same clock times (default: home-pv-load-2024-5min.csv beside the folder)")
	minA := fs.Float64("min-current", 6, "charger minimum current, A")
	maxA := fs.Float64("max-current", 16, "charger maximum current, A")
	phases := fs.Int("phases", 3, "phases the charger is wired with (1 or 3)")
	switchPhases := fs.Bool("switch-phases", true, "the charger can switch 1↔3 phases")
	mode := fs.String("mode", "pv", "charging mode: now, minpv, pv")
	limit := fs.Float64("site-limit", 35, "main fuse, A per phase (0: none)")
	plugFrom := fs.String("plug-from", "07:00", "time of day the car is plugged in")
	plugUntil := fs.String("plug-until", "19:00", "time of day the car leaves")
	zoneName := fs.String("zone", "", "time zone of the plug times (default: UTC for Solar-Log, Europe/Berlin for Home Assistant data)")
	fromS := fs.String("from", "", "start date YYYY-MM-DD (default: the trace's start)")
	toS := fs.String("to", "", "end date YYYY-MM-DD, exclusive (default: the trace's end)")
	carModel := fs.String("car", "simple", "car model: simple (follows the offer one tick later; fast) or lagging (drivers/simcar: 2 s reaction, 1.5 s ramp, 6 A minimum)")
	battery := fs.Float64("car-battery", 0, "car battery to fill, kWh (0: never full)")
	asJSON := fs.Bool("json", false, "print evbridge's figures as one JSON object")
	plot := fs.String("plot", "", "write an SVG of PV, house, car and grid power for --day")
	day := fs.String("day", "", "the day to plot, YYYY-MM-DD")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *trace == "" {
		fmt.Fprintln(stderr, "evbridge simulate: --trace is required (e.g. ../shared/data/home-pv-load-2024-5min.csv)")
		return errUsage
	}
	if (*plot == "") != (*day == "") {
		fmt.Fprintln(stderr, "evbridge simulate: --plot and --day go together")
		return errUsage
	}
	if *mode != "now" && *mode != "minpv" && *mode != "pv" {
		return fmt.Errorf("--mode %q: expected now, minpv or pv", *mode)
	}
	samples, defaultZone, err := loadTrace(*trace, *house, stderr)
	if err != nil {
		return err
	}
	zone := defaultZone
	if *zoneName != "" {
		if zone, err = time.LoadLocation(*zoneName); err != nil {
			return fmt.Errorf("--zone: %w", err)
		}
	}
	sc := solar.StandardScenario()
	sc.Zone = zone
	sc.CanSwitchPhases = *switchPhases
	sc.Site.PhaseLimit = *limit
	ch := &sc.Site.Chargers[0]
	ch.MinCurrent, ch.MaxCurrent, ch.Phases, ch.Mode = *minA, *maxA, *phases, solar.Mode(*mode)
	if sc.PlugFrom, err = clock(*plugFrom); err != nil {
		return fmt.Errorf("--plug-from: %w", err)
	}
	if sc.PlugUntil, err = clock(*plugUntil); err != nil {
		return fmt.Errorf("--plug-until: %w", err)
	}
	if sc.From, err = date(*fromS, zone); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	if sc.To, err = date(*toS, zone); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	switch *carModel {
	case "simple":
		if *battery > 0 {
			sc.NewCar = func(int) solar.Car { return &solar.SimpleCar{CapacityKWh: *battery, Voltage: sc.Site.Voltage} }
		}
	case "lagging":
		t0 := samples[0].Time
		sc.NewCar = func(int) solar.Car { return newLaggingCar(t0, *battery) }
	default:
		return fmt.Errorf("--car %q: expected simple or lagging", *carModel)
	}
	if err := sc.Site.Validate(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	var p *svgPlot
	if *plot != "" {
		d, err := date(*day, zone)
		if err != nil {
			return fmt.Errorf("--day: %w", err)
		}
		p = &svgPlot{from: d, to: d.AddDate(0, 0, 1)}
		sc.OnTick = p.add
	}
	start := time.Now()
	ours := solar.Replay(samples, sc, solar.NewController(sc.Site, solar.Memory{}))
	took := time.Since(start)
	if p != nil {
		if err := os.WriteFile(*plot, p.svg(*day), 0o644); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ours)
	}
	sc.OnTick = nil
	base := solar.Replay(samples, sc, solar.NewEvccLike(sc.Site))
	printReports(stdout, ours, base, took)
	return nil
}

func loadTrace(path, house string, stderr io.Writer) ([]solar.Sample, *time.Location, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace: %w", err)
	}
	if !info.IsDir() {
		s, err := readSolarLog(path, stderr)
		return s, time.UTC, err
	}
	cet, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		cet = time.FixedZone("CET", 3600)
	}
	if house == "" {
		house = filepath.Join(filepath.Dir(filepath.Clean(path)), "home-pv-load-2024-5min.csv")
	}
	houseSamples, err := readSolarLog(house, stderr)
	if err != nil {
		return nil, nil, fmt.Errorf("--house: %w", err)
	}
	read := func(name string) ([]solar.Point, error) {
		f, err := os.Open(filepath.Join(path, name))
		if errors.Is(err, os.ErrNotExist) && name != "pv_power.csv" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		defer f.Close()
		m, err := solar.ReadHAStates(f)
		if m == nil {
			return nil, fmt.Errorf("--trace %s: %w", name, err)
		}
		for _, pts := range m {
			return pts, nil
		}
		return nil, nil
	}
	pv, err := read("pv_power.csv")
	if err != nil {
		return nil, nil, err
	}
	bat, err := read("battery_power.csv")
	if err != nil {
		return nil, nil, err
	}
	soc, err := read("battery_soc.csv")
	if err != nil {
		return nil, nil, err
	}
	if len(pv) == 0 {
		return nil, nil, errors.New("--trace: pv_power.csv holds no values")
	}
	// The state-change files start with hourly means; the 10-s part is
	// their last days. Replay from the first day with dense data.
	from := denseStart(pv).In(cet)
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, cet)
	to := pv[len(pv)-1].Time.Add(time.Minute)
	return solar.HASamples(pv, bat, soc, from, to, solar.HouseFrom(houseSamples, cet)), cet, nil
}

// denseStart is the first point followed by points less than a minute
// apart.
func denseStart(pts []solar.Point) time.Time {
	for i := 0; i+10 < len(pts); i++ {
		if pts[i+10].Time.Sub(pts[i].Time) < 10*time.Minute {
			return pts[i].Time
		}
	}
	return pts[0].Time
}

func readSolarLog(path string, stderr io.Writer) ([]solar.Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := solar.ReadSolarLog(f)
	var bad *solar.BadRowsError
	if errors.As(err, &bad) {
		fmt.Fprintf(stderr, "evbridge simulate: %s: %v (skipped; the row before holds)\n", path, err)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("expected HH:MM, got %q", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func date(s string, zone *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected YYYY-MM-DD, got %q", s)
	}
	return t, nil
}

func printReports(w io.Writer, ours, base solar.Report, took time.Duration) {
	row := func(name, unit string, a, b float64) {
		fmt.Fprintf(w, "%-34s %12.1f %12.1f %s\n", name, a, b, unit)
	}
	fmt.Fprintf(w, "%-34s %12s %12s\n", fmt.Sprintf("%.0f days", ours.Days), "evbridge", "evcc-like")
	row("PV energy", "kWh", ours.PVKWh, base.PVKWh)
	row("surplus energy (PV above house)", "kWh", ours.SurplusKWh, base.SurplusKWh)
	row("energy into the car", "kWh", ours.CarKWh, base.CarKWh)
	row("car energy from PV", "kWh", ours.CarPVKWh, base.CarPVKWh)
	row("grid import by the car", "kWh", ours.GridImportKWh, base.GridImportKWh)
	row("export", "kWh", ours.ExportKWh, base.ExportKWh)
	row("charging starts", "", float64(ours.Starts), float64(base.Starts))
	row("charging starts per day", "", float64(ours.Starts)/max(ours.Days, 1), float64(base.Starts)/max(base.Days, 1))
	row("seconds over the site limit", "s", ours.OverLimitS, base.OverLimitS)
	row("oracle bound", "kWh", ours.OracleKWh, base.OracleKWh)
	row("car PV / oracle", "%", 100*ours.OracleRatio, 100*base.OracleRatio)
	row("grid import / car energy", "%", pct(ours.GridImportKWh, ours.CarKWh), pct(base.GridImportKWh, base.CarKWh))
	fmt.Fprintf(w, "evbridge's replay took %s (%d ticks)\n", took.Round(time.Millisecond), ours.Ticks)
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

// svgPlot collects one day of powers and draws them.
type svgPlot struct {
	from, to time.Time
	t        []time.Time
	series   [4][]float64 // pv, house, car, grid
}

func (p *svgPlot) add(t time.Time, pv, house, car, grid float64) {
	// One point a minute is plenty for a day's plot.
	if t.Before(p.from) || !t.Before(p.to) || len(p.t) > 0 && t.Sub(p.t[len(p.t)-1]) < time.Minute {
		return
	}
	p.t = append(p.t, t)
	for i, v := range []float64{pv, house, car, grid} {
		p.series[i] = append(p.series[i], v)
	}
}

func (p *svgPlot) svg(title string) []byte {
	const w, h, pad = 960.0, 420.0, 40.0
	lo, hi := 0.0, 1000.0
	for _, s := range p.series {
		for _, v := range s {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	x := func(t time.Time) float64 { return pad + (w-2*pad)*t.Sub(p.from).Hours()/24 }
	y := func(v float64) float64 { return h - pad - (h-2*pad)*(v-lo)/(hi-lo) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="20">%s: power, W</text>`, pad, title)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#999"/>`, pad, y(0), w-pad, y(0))
	for hr := 0; hr <= 24; hr += 3 {
		xx := pad + (w-2*pad)*float64(hr)/24
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%02d:00</text>`, xx, h-pad+16, hr)
	}
	fmt.Fprintf(&b, `<text x="4" y="%.1f">%.0f</text><text x="4" y="%.1f">%.0f</text>`, y(hi)+4, hi, y(lo), lo)
	colors := []string{"#e6a800", "#555555", "#1f77b4", "#d62728"}
	names := []string{"PV", "house", "car", "grid"}
	for i, s := range p.series {
		b.WriteString(`<polyline fill="none" stroke-width="1.2" stroke="` + colors[i] + `" points="`)
		for k, v := range s {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.t[k]), y(v))
		}
		b.WriteString(`"/>`)
		fmt.Fprintf(&b, `<text x="%.0f" y="20" fill="%s">%s</text>`, w-pad-240+float64(i)*60, colors[i], names[i])
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// laggingCar adapts drivers/simcar (reaction delay, ramp, 6 A minimum,
// full battery) to solar.Car, its clock moved by the replay.
type laggingCar struct {
	car *simcar.Car
	now time.Time
}

func newLaggingCar(start time.Time, kWh float64) *laggingCar {
	c := &laggingCar{now: start}
	soc := 10.0
	if kWh <= 0 {
		kWh = 1e9 // never full
	}
	c.car = simcar.New(simcar.Config{BatteryKWh: kWh, SoC: soc, Now: func() time.Time { return c.now }})
	return c
}

func (c *laggingCar) Plug(p bool)                      { c.car.Plug(p) }
func (c *laggingCar) Offer(a float64, ph int, on bool) { c.car.Offer(a, ph, on) }
func (c *laggingCar) Advance(dt time.Duration)         { c.now = c.now.Add(dt) }
func (c *laggingCar) Draw() (float64, [3]float64, float64, bool) {
	r := c.car.Read()
	return r.Power, r.Currents, r.SessionWh / 1000, r.Full
}
