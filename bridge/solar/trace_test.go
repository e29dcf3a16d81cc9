package solar

import (
	"strings"
	"testing"
	"time"
)

// The trace readers skip bad rows and say which.
func TestReadSolarLogBadRows(t *testing.T) {
	csv := "time,output,consumption\n" +
		"2024-06-01 10:00:00,1000,300\n" +
		"2024-06-01 10:05:00,NaN,300\n" +
		"2024-06-01 10:10:00,1200\n" +
		"yesterday,1,1\n" +
		"2024-06-01 10:15:00,5e6,300\n" +
		"2024-06-01 10:20:00,1500,350\n" +
		"2024-06-01 10:05:00,1,1\n"
	s, err := ReadSolarLog(strings.NewReader(csv))
	if len(s) != 2 || s[1].PV != 1500 || s[1].House != 350 {
		t.Fatalf("samples %+v", s)
	}
	for _, want := range []string{"5 bad rows", "line 3", "line 4", "line 5", "line 6", "line 8: time 2024-06-01 10:05:00 not after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := ReadSolarLog(strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Error("wrong header accepted")
	}
}

func TestReadHAStates(t *testing.T) {
	csv := "entity_id,state,last_changed\n" +
		"sensor.pv_power,100,2024-11-24T10:00:10.000Z\n" +
		"sensor.pv_power,unavailable,2024-11-24T10:00:20.000Z\n" +
		"sensor.pv_power,300,2024-11-24T10:00:00.000Z\n" +
		"sensor.pv_power,abc,2024-11-24T10:00:30.000Z\n" +
		"sensor.battery_power,-500,2024-11-24T10:00:05.000Z\n"
	m, err := ReadHAStates(strings.NewReader(csv))
	if err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("bad state not reported: %v", err)
	}
	pv := m["sensor.pv_power"]
	if len(pv) != 3 || pv[0].Value != 300 || pv[2].Valid {
		t.Fatalf("pv %+v", pv)
	}
	from := time.Date(2024, 11, 24, 10, 0, 0, 0, time.UTC)
	s := HASamples(pv, m["sensor.battery_power"], nil, from, from.Add(time.Minute), func(time.Time) float64 { return 200 })
	want := []float64{300, 300, 100, 0} // at 0, 5, 10, 20 s; unavailable counts 0 W
	if len(s) != len(want) {
		t.Fatalf("%d samples, want %d: %+v", len(s), len(want), s)
	}
	for i, w := range want {
		if s[i].PV != w || s[i].House != 200 {
			t.Errorf("sample %d: %+v, want PV %g", i, s[i], w)
		}
	}
	if !s[1].Battery.Valid || s[1].Battery.Value != -500 || s[0].Battery.Valid {
		t.Errorf("battery %+v %+v", s[0].Battery, s[1].Battery)
	}
}
