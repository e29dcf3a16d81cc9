package modbusx

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A poll budget of a few requests leaves room for one more read than the
// status needs: slow values (identity, settings, the setpoint) take turns
// in it. Rotation keeps those turns for a driver.

// Slot is one read that shares a poll's last request with others: what
// it read stays in use until it is read again.
type Slot struct {
	Name string
	// Every is how often it is due (the Fallback's is ignored).
	Every time.Duration
	// Plan is read with the poll's Client, and Apply takes in the block
	// (with the driver's lock held).
	Plan  *Plan
	Apply func(*Block)
	// Fetch, instead of Plan and Apply, does another kind of read (coils,
	// say) and returns what to apply under the lock.
	Fetch func(ctx context.Context) (apply func(), err error)

	at time.Time // last attempt
}

// Rotation picks each poll's last read: the first slot due, else the
// Fallback, which is also read first of all.
type Rotation struct {
	Slots    []*Slot
	Fallback *Slot

	failed string // the failure last logged, so each is logged once
}

// next returns the slot to read now.
func (r *Rotation) next(now time.Time) *Slot {
	if r.Fallback.at.IsZero() {
		return r.Fallback
	}
	for _, s := range r.Slots {
		if s.at.IsZero() || now.Sub(s.at) >= s.Every {
			return s
		}
	}
	return r.Fallback
}

// Reset makes every slot due, after a lost connection (a device may have
// restarted and changed what they hold). The driver's lock is held.
func (r *Rotation) Reset() {
	for _, s := range r.Slots {
		s.at = time.Time{}
	}
	r.Fallback.at = time.Time{}
}

// Read does one poll's rotating read on cl. mu is the driver's lock: it
// guards r and what the slots apply, and is not held during the request.
// A failure does not fail the poll (the status is what matters, and the
// slot is read again soon); each distinct failure is logged once.
func (r *Rotation) Read(ctx context.Context, cl *Client, mu sync.Locker, log *slog.Logger) {
	mu.Lock()
	s := r.next(time.Now())
	s.at = time.Now()
	mu.Unlock()
	var apply func()
	var err error
	if s.Fetch != nil {
		apply, err = s.Fetch(ctx)
	} else {
		var b *Block
		if b, err = cl.ReadPlan(ctx, s.Plan); err == nil {
			apply = func() { s.Apply(b) }
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		if msg := s.Name + ": " + err.Error(); msg != r.failed {
			log.Warn("registers unreadable", "what", s.Name, "err", err)
			r.failed = msg
		}
		return
	}
	r.failed = ""
	apply()
}

// Len is the number of slots, the fallback included: after that many
// polls every slot has been read once.
func (r *Rotation) Len() int { return len(r.Slots) + 1 }
