package ocpp

import (
	"fmt"
	"sync"
	"time"

	"github.com/lorenzodonini/ocpp-go/ocpp"
	"github.com/lorenzodonini/ocpp-go/ocppj"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// maxQueuedCalls per charge point; more is a stuck charge point, and the
// caller gets an error rather than a growing backlog.
const maxQueuedCalls = 16

// dispatcher sends the central system's calls: one outstanding call per
// charge point (OCPP-J allows no more), in order, each bounded by a
// timeout. It replaces ocppj.DefaultServerDispatcher, whose single message
// pump can deadlock: on a timeout the pump itself signals a channel of
// capacity one that only the pump reads, so one charge point that never
// answers while another answers freezes every charge point.
//
// A response and a timeout of the same call must not race: the library
// reads the pending call, then completes it, then hands the response to
// the oldest waiting callback. A timeout in between would fail that call's
// callback and give the late response to the next call's callback (a
// type-assertion panic in the library). So each charge point's frames are
// processed under its lock (lockClient, taken by the endpoint), and a
// timeout takes the same lock.
type dispatcher struct {
	procMu   sync.Mutex
	proc     map[string]*sync.Mutex
	mu       sync.Mutex
	net      ws.WsServer
	state    ocppj.ServerState
	timeout  time.Duration
	onCancel ocppj.CanceledRequestHandler
	running  bool
	clients  map[string]*callQueue
}

type callQueue struct {
	calls    []ocppj.RequestBundle
	inflight string // unique id of the call on the wire, "" when none
	timer    *time.Timer
}

func newDispatcher(timeout time.Duration) *dispatcher {
	return &dispatcher{timeout: timeout, clients: map[string]*callQueue{}, proc: map[string]*sync.Mutex{}}
}

// lockClient serialises frame processing and timeouts of one charge point.
func (d *dispatcher) lockClient(id string) (unlock func()) {
	d.procMu.Lock()
	m := d.proc[id]
	if m == nil {
		m = &sync.Mutex{}
		d.proc[id] = m
	}
	d.procMu.Unlock()
	m.Lock()
	return m.Unlock
}

func (d *dispatcher) Start() {
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
}

func (d *dispatcher) IsRunning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

func (d *dispatcher) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = false
	for id, q := range d.clients {
		if q.timer != nil {
			q.timer.Stop()
		}
		delete(d.clients, id)
	}
}

func (d *dispatcher) SetTimeout(t time.Duration)                          { d.timeout = t }
func (d *dispatcher) SetOnRequestCanceled(h ocppj.CanceledRequestHandler) { d.onCancel = h }
func (d *dispatcher) SetNetworkServer(s ws.WsServer)                      { d.net = s }
func (d *dispatcher) SetPendingRequestState(s ocppj.ServerState)          { d.state = s }

func (d *dispatcher) CreateClient(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.clients[id]; old != nil && old.timer != nil {
		old.timer.Stop()
	}
	d.clients[id] = &callQueue{}
}

// DeleteClient forgets the client's calls and cancels each of them, so
// the library fails its callback now. ocpp-go v0.18.0's 1.6 central system
// also drains its callback queue on disconnect, but its 2.0.1 CSMS does
// not: a stale callback would then take the first answer after a
// reconnect, and its type assertion panics (seen with Reset).
func (d *dispatcher) DeleteClient(id string) {
	d.mu.Lock()
	q := d.clients[id]
	delete(d.clients, id)
	cancel := d.onCancel
	var calls []ocppj.RequestBundle
	if q != nil {
		if q.timer != nil {
			q.timer.Stop()
		}
		calls = q.calls
		if q.inflight != "" {
			d.state.DeletePendingRequest(id, q.inflight)
		}
	}
	d.mu.Unlock()
	if cancel == nil {
		return
	}
	for _, b := range calls {
		cancel(id, b.Call.UniqueId, b.Call.Payload,
			ocpp.NewError(ocppj.GenericError, "charge point disconnected before answering", b.Call.UniqueId))
	}
}

func (d *dispatcher) SendRequest(id string, req ocppj.RequestBundle) error {
	d.mu.Lock()
	q := d.clients[id]
	switch {
	case !d.running:
		d.mu.Unlock()
		return fmt.Errorf("central system stopped")
	case q == nil:
		d.mu.Unlock()
		return fmt.Errorf("charge point %s is not connected", id)
	case len(q.calls) >= maxQueuedCalls:
		d.mu.Unlock()
		return fmt.Errorf("charge point %s has %d calls waiting", id, len(q.calls))
	}
	q.calls = append(q.calls, req)
	next := d.nextLocked(id, q)
	d.mu.Unlock()
	// Not inline: the library calls SendRequest holding its callback
	// lock, which a failed send's cancel callback takes again.
	if next != nil {
		go d.transmit(id, next)
	}
	return nil
}

// nextLocked marks the head call in flight if the line is free and
// returns it for transmit; the caller holds d.mu.
func (d *dispatcher) nextLocked(id string, q *callQueue) *ocppj.RequestBundle {
	if q.inflight != "" || len(q.calls) == 0 {
		return nil
	}
	b := q.calls[0]
	q.inflight = b.Call.UniqueId
	d.state.AddPendingRequest(id, b.Call.UniqueId, b.Call.Payload)
	if d.timeout > 0 {
		uid := b.Call.UniqueId
		q.timer = time.AfterFunc(d.timeout, func() { d.expire(id, uid, errTimedOut) })
	}
	return &b
}

// transmit writes b outside the lock: a slow socket must not hold up
// other charge points.
func (d *dispatcher) transmit(id string, b *ocppj.RequestBundle) {
	if b == nil {
		return
	}
	if err := d.net.Write(id, b.Data); err != nil {
		// Not inline: the caller may hold the client's processing lock.
		go d.expire(id, b.Call.UniqueId, "send failed: "+err.Error())
	}
}

func (d *dispatcher) CompleteRequest(id, uid string) {
	d.mu.Lock()
	q := d.clients[id]
	if q == nil || q.inflight != uid {
		d.mu.Unlock()
		return
	}
	d.popLocked(id, q)
	next := d.nextLocked(id, q)
	d.mu.Unlock()
	d.transmit(id, next)
}

// expire cancels the call uid if it is still in flight.
func (d *dispatcher) expire(id, uid, why string) {
	unlock := d.lockClient(id)
	defer unlock()
	d.mu.Lock()
	q := d.clients[id]
	if q == nil || q.inflight != uid {
		d.mu.Unlock()
		return
	}
	b := q.calls[0]
	d.popLocked(id, q)
	next := d.nextLocked(id, q)
	cancel := d.onCancel
	d.mu.Unlock()
	if cancel != nil {
		cancel(id, uid, b.Call.Payload, ocpp.NewError(ocppj.GenericError, why, uid))
	}
	d.transmit(id, next)
}

func (d *dispatcher) popLocked(id string, q *callQueue) {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	d.state.DeletePendingRequest(id, q.inflight)
	q.calls = q.calls[1:]
	q.inflight = ""
}

var _ ocppj.ServerDispatcher = (*dispatcher)(nil)
