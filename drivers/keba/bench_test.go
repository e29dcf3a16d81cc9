package keba

import (
	"testing"
	"time"
)

// BenchmarkPoll asks the station every poll (no spacing rules on either
// side) and reports the datagrams a poll sends.
func BenchmarkPoll(b *testing.B) {
	s := startSim(b, SimConfig{Plugged: true}, timing{})
	d := newDriver(b, s, nil, 2*time.Second)
	ctx := b.Context()
	if _, err := d.Poll(ctx); err != nil { // identity, read once
		b.Fatal(err)
	}
	before := s.Stats().Datagrams
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().Datagrams-before)/float64(b.N), "datagrams/poll")
}

// BenchmarkPollHeld polls faster than t_COM_pause allows asking: the
// answers come from the reports held.
func BenchmarkPollHeld(b *testing.B) {
	s := startSim(b, SimConfig{Plugged: true}, defaultTiming())
	d := newDriver(b, s, nil, 2*time.Second)
	ctx := b.Context()
	if _, err := d.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	before := s.Stats().Datagrams
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().Datagrams-before)/float64(b.N), "datagrams/poll")
}
