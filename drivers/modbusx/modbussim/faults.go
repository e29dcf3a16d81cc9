package modbussim

import (
	"sync"
	"time"

	"github.com/simonvetter/modbus"
)

// Counters count the requests a simulator answered (or refused). Every
// simulator reports the same three numbers so that tests can assert how
// many requests one driver poll costs.
type Counters struct {
	Requests, Reads, Writes uint64
}

// Faults is the fault injection and request accounting every Modbus
// simulator offers, so that each driver's tests can provoke the same
// failures a real station shows on a LAN: "device busy" exceptions, slow
// answers, a connection dropped in the middle of a read and a station
// that takes a request and never answers. The zero value is ready; it is
// safe for concurrent use and never calls back into the simulator, so a
// simulator may call it while holding its own lock.
type Faults struct {
	mu         sync.Mutex
	busy, drop int
	hang       int
	delay      time.Duration
	reqs       Counters
	masters    map[string]struct{}
	released   chan struct{} // closed by Release: hung requests end
}

// Busy makes the next n requests fail with "server device busy".
func (f *Faults) Busy(n int) { f.mu.Lock(); f.busy = n; f.mu.Unlock() }

// Drop makes the next n reads close the connection without an answer.
func (f *Faults) Drop(n int) { f.mu.Lock(); f.drop = n; f.mu.Unlock() }

// Delay makes every request wait d before it is answered.
func (f *Faults) Delay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// Hang makes the next n requests go unanswered until the simulator is
// closed, as a station whose Modbus task locked up: the TCP link stays
// up and only the master's timeout ends the wait.
func (f *Faults) Hang(n int) { f.mu.Lock(); f.hang = n; f.mu.Unlock() }

// Counters returns the request counters.
func (f *Faults) Counters() Counters { f.mu.Lock(); defer f.mu.Unlock(); return f.reqs }

// Masters is the number of distinct client connections seen; tests use
// it to tell a retry on a new connection from one on the old.
func (f *Faults) Masters() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.masters) }

// Verdict is what the fault injection decided for one request; Wait
// carries it out.
type Verdict struct {
	// Drop closes the connection unanswered; Busy answers "device busy";
	// Hang never answers.
	Drop, Busy, Hang bool
	Delay            time.Duration
	released         <-chan struct{}
}

// Take counts one request of client and decides its faults, without
// waiting. A request on a link the model cuts anyway (cut) gets Drop and
// uses up none of the injected faults. Simulators that must act on a
// drop under their own lock (a station that resets state when the link
// goes) call Take and then Wait; the others call Admit.
func (f *Faults) Take(client string, write, cut bool) Verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs.Requests++
	if write {
		f.reqs.Writes++
	} else {
		f.reqs.Reads++
	}
	if f.masters == nil {
		f.masters = map[string]struct{}{}
	}
	f.masters[client] = struct{}{}
	v := Verdict{Drop: cut, Delay: f.delay}
	if !cut && !write && f.drop > 0 {
		f.drop--
		v.Drop = true
	}
	if !v.Drop && f.busy > 0 {
		f.busy--
		v.Busy = true
	}
	if !v.Drop && !v.Busy && f.hang > 0 {
		f.hang--
		v.Hang = true
		if f.released == nil {
			f.released = make(chan struct{})
		}
		v.released = f.released
	}
	return v
}

// Wait sleeps the delay (a slow station holds only this master's link),
// then returns the error the library server turns into the fault:
// modbus.ErrProtocolError closes the connection, ErrServerDeviceBusy is
// the exception. nil means the request goes on to the register map.
func (v Verdict) Wait() error {
	if v.Delay > 0 {
		time.Sleep(v.Delay)
	}
	switch {
	case v.Drop:
		return modbus.ErrProtocolError
	case v.Busy:
		return modbus.ErrServerDeviceBusy
	case v.Hang:
		<-v.released
		return modbus.ErrProtocolError
	}
	return nil
}

// Admit is Take and Wait for a request that no model state cuts.
func (f *Faults) Admit(client string, write bool) error {
	return f.Take(client, write, false).Wait()
}

// release ends every hung request, so that closing a simulator never
// leaves a handler goroutine behind.
func (f *Faults) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released != nil {
		close(f.released)
		f.released = nil
	}
}
