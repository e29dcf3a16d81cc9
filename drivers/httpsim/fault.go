package httpsim

import (
	"io"
	"net/http"
	"time"
)

// Fault is a misbehaviour a simulated device can be told to show on every
// reply. Values above FaultSlow are a device's own: Misbehave leaves them
// to the device's handler.
type Fault int

// Faults seen in real firmware.
const (
	FaultNone    Fault = iota
	FaultHang          // accept the request, never answer until Close
	FaultGarbage       // 200 with truncated JSON
	FaultHTML          // 200 with an HTML page
	FaultEmpty         // 200 with an empty body
	FaultSlow          // answer normally after SetSlowDelay
)

// Replies are a device's own broken bodies: what its firmware was seen to
// send, so a driver's error messages can be checked against them.
type Replies struct {
	// Garbage is FaultGarbage's body: truncated JSON.
	Garbage string
	// HTML is FaultHTML's body.
	HTML string
	// Unlabelled leaves the Content-Type off the garbage and empty
	// replies (net/http then sniffs one), as the Shelly simulator always
	// did; otherwise they claim application/json.
	Unlabelled bool
}

// SetFault makes every following reply misbehave as f says.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Fault returns the fault set now.
func (s *Server) Fault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// SetSlowDelay sets how long FaultSlow waits before answering (default
// DefaultSlowDelay).
func (s *Server) SetSlowDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowDelay = d
}

// Misbehave shows the fault set now on w, with the device's replies. It
// reports whether the request is done with: true after a broken reply,
// a hang or a slow answer the client gave up on; false when the handler
// is to answer normally (no fault, a slow answer's wait is over, or a
// fault of the device's own).
func (s *Server) Misbehave(w http.ResponseWriter, req *http.Request, rep Replies) (done bool) {
	return s.Inject(w, req, s.Fault(), rep)
}

// Inject is Misbehave with fault f instead of the one set: for a device
// whose own fault list maps onto httpsim's.
func (s *Server) Inject(w http.ResponseWriter, req *http.Request, fault Fault, rep Replies) (done bool) {
	s.mu.Lock()
	delay := s.slowDelay
	s.mu.Unlock()
	switch fault {
	case FaultHang:
		select {
		case <-gone(req):
		case <-req.Context().Done():
		}
		panic(http.ErrAbortHandler) // drop the connection, answer nothing
	case FaultGarbage:
		label(w, rep)
		_, _ = io.WriteString(w, rep.Garbage)
		return true
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, rep.HTML)
		return true
	case FaultEmpty:
		label(w, rep)
		return true
	case FaultSlow:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-gone(req):
			panic(http.ErrAbortHandler)
		case <-req.Context().Done():
			return true
		}
	}
	return false
}

func label(w http.ResponseWriter, rep Replies) {
	if !rep.Unlabelled {
		w.Header().Set("Content-Type", "application/json")
	}
}

// gone is closed when the run serving req ends.
func gone(req *http.Request) <-chan struct{} {
	if r, ok := req.Context().Value(runKey{}).(*run); ok {
		return r.gone
	}
	panic(errNotRunning)
}
