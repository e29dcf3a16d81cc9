package bridge

import (
	"context"
	"fmt"
	"testing"
)

// Offers are taken one at a time, in the order they were pushed, whatever
// the timing of pushes and takes.
func TestOfferQueueKeepsOrder(t *testing.T) {
	q := newOfferQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2000
	got := make(chan string, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.run(ctx, func(o queuedOffer) { got <- o.candidate.ID })
	}()
	for i := range n {
		q.push(queuedOffer{candidate: Candidate{ID: fmt.Sprint(i)}})
	}
	for i := range n {
		if id := <-got; id != fmt.Sprint(i) {
			t.Fatalf("offer %d taken as number %d", i, mustAtoi(t, id))
		}
	}
	cancel()
	<-done
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
