package solar

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sample is one instant of a recorded site without the car: it holds until
// the next sample (zero-order hold).
type Sample struct {
	Time time.Time
	// PV and House are the PV power and the house load without the car, W.
	PV    float64
	House float64
	// Battery is the home battery's power, W, positive while discharging;
	// SoC its state of charge, %.
	Battery Optional
	SoC     Optional
}

// BadRowsError reports rows a trace reader skipped. The samples returned
// with it are good; each skipped row's neighbour before it holds in its
// place, so callers may treat it as a warning (errors.As).
type BadRowsError struct {
	Count int
	First []string // up to 5 messages with line numbers
}

// Error implements error.
func (e *BadRowsError) Error() string {
	return fmt.Sprintf("%d bad rows skipped: %s", e.Count, strings.Join(e.First, "; "))
}

func (e *BadRowsError) add(line int, format string, args ...any) {
	e.Count++
	if len(e.First) < 5 {
		e.First = append(e.First, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
}

func (e *BadRowsError) err() error {
	if e.Count == 0 {
		return nil
	}
	return e
}

// ReadSolarLog reads the 5-min Solar-Log export: header
// time,output,consumption; time as local wall time "2006-01-02 15:04:05",
// kept as a UTC-labelled wall clock (so the daylight-saving change shows
// as a 1 h gap in March and a repeated hour in October, which the
// zero-order hold and the timestamp order check absorb). Rows with a bad
// time, a value that is not a number, below -1 kW or beyond 1 MW, or a time
// not after the row before are skipped and reported in a *BadRowsError.
func ReadSolarLog(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("solar-log trace: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	ti, ok1 := col["time"]
	oi, ok2 := col["output"]
	ci, ok3 := col["consumption"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("solar-log trace: header %q lacks time, output, consumption", strings.Join(head, ","))
	}
	var out []Sample
	bad := &BadRowsError{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			bad.add(line, "%v", err)
			continue
		}
		if len(rec) <= max(ti, oi, ci) {
			bad.add(line, "%d fields", len(rec))
			continue
		}
		t, err := time.Parse(time.DateTime, strings.TrimSpace(rec[ti]))
		if err != nil {
			bad.add(line, "time %q", rec[ti])
			continue
		}
		pv, err1 := plausible(rec[oi])
		house, err2 := plausible(rec[ci])
		if err := errors.Join(err1, err2); err != nil {
			bad.add(line, "%v", err)
			continue
		}
		if n := len(out); n > 0 && !t.After(out[n-1].Time) {
			bad.add(line, "time %s not after %s", t.Format(time.DateTime), out[n-1].Time.Format(time.DateTime))
			continue
		}
		out = append(out, Sample{Time: t, PV: math.Max(pv, 0), House: math.Max(house, 0)})
	}
	if len(out) == 0 {
		return nil, errors.Join(errors.New("solar-log trace: no usable rows"), bad.err())
	}
	return out, bad.err()
}

func plausible(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || v < -1000 || v > absurdPower {
		return 0, fmt.Errorf("value %q is not a plausible power", s)
	}
	return v, nil
}

// Point is one state change of a Home Assistant entity; Valid is false for
// "unavailable" and "unknown".
type Point struct {
	Time  time.Time
	Value float64
	Valid bool
}

// ReadHAStates reads a Home Assistant state-change export
// (entity_id,state,last_changed with RFC 3339 times) into one sorted
// series per entity. Unparsable rows are skipped and reported in a
// *BadRowsError; "unavailable" and "unknown" become invalid points, so the
// value before does not hold across them.
func ReadHAStates(r io.Reader) (map[string][]Point, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	if _, err := cr.Read(); err != nil {
		return nil, fmt.Errorf("home assistant trace: header: %w", err)
	}
	out := map[string][]Point{}
	bad := &BadRowsError{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil || len(rec) < 3 {
			bad.add(line, "not entity_id,state,last_changed")
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(rec[2]))
		if err != nil {
			bad.add(line, "time %q", rec[2])
			continue
		}
		p := Point{Time: t}
		switch st := strings.TrimSpace(rec[1]); st {
		case "unavailable", "unknown", "":
		default:
			v, err := strconv.ParseFloat(st, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > absurdPower {
				bad.add(line, "state %q", st)
				continue
			}
			p.Value, p.Valid = v, true
		}
		out[rec[0]] = append(out[rec[0]], p)
	}
	for _, s := range out {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Time.Before(s[j].Time) })
	}
	return out, bad.err()
}

// HASamples merges PV, battery power and SoC series (any may be nil) into
// samples at every change time in [from, to), holding each value until the
// next change. house gives the house load at an instant (the 10-s data has
// none; see HouseFrom). An invalid PV point counts as 0 W.
func HASamples(pv, battery, soc []Point, from, to time.Time, house func(time.Time) float64) []Sample {
	var times []time.Time
	for _, s := range [][]Point{pv, battery, soc} {
		for _, p := range s {
			if !p.Time.Before(from) && p.Time.Before(to) {
				times = append(times, p.Time)
			}
		}
	}
	times = append(times, from)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var out []Sample
	for i, t := range times {
		if i > 0 && t.Equal(times[i-1]) {
			continue
		}
		s := Sample{Time: t, House: house(t)}
		if p, ok := at(pv, t); ok && p.Valid {
			s.PV = math.Max(p.Value, 0)
		}
		if p, ok := at(battery, t); ok && p.Valid {
			s.Battery = Some(p.Value)
		}
		if p, ok := at(soc, t); ok && p.Valid {
			s.SoC = Some(p.Value)
		}
		out = append(out, s)
	}
	return out
}

// at is the point holding at t.
func at(s []Point, t time.Time) (Point, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].Time.After(t) })
	if i == 0 {
		return Point{}, false
	}
	return s[i-1], true
}

// HouseFrom returns the house load of samples at the same wall-clock time
// as t seen in zone: how the 10-s PV days borrow the 5-min year's house
// load (whose times are UTC-labelled wall clock).
func HouseFrom(samples []Sample, zone *time.Location) func(time.Time) float64 {
	return func(t time.Time) float64 {
		w := t.In(zone)
		key := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
		i := sort.Search(len(samples), func(i int) bool { return samples[i].Time.After(key) })
		if i == 0 {
			return 0
		}
		return samples[i-1].House
	}
}
