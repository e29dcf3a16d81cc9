package modbusx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
)

// asciiGateway is a transparent RS485 gateway with units 1 and 2 on
// loopback: holding register a of unit u holds u*1000+a (100..109),
// input registers hold 500 more, coils 0..15 alternate. As on a bus, a
// frame for another unit gets no answer.
type asciiGateway struct {
	mu    sync.Mutex
	regs  map[uint8]map[uint16]uint16
	coils map[uint8][]bool
	conns int
	// start is the replies' start character ('>' unless set).
	start byte
	// echo sends every request back before the answer.
	echo bool
	// drop closes the connection unanswered on the next n requests.
	drop int
	// raw, if set, answers every request line instead (nil: silence).
	raw func(req []byte) []byte
}

func newASCIIGateway(t *testing.T, edit func(g *asciiGateway)) (*asciiGateway, string) {
	t.Helper()
	g := &asciiGateway{start: '>', regs: map[uint8]map[uint16]uint16{}, coils: map[uint8][]bool{}}
	for u := uint8(1); u <= 2; u++ {
		g.regs[u] = map[uint16]uint16{}
		for a := uint16(100); a < 110; a++ {
			g.regs[u][a] = uint16(u)*1000 + a
		}
		for i := range 16 {
			g.coils[u] = append(g.coils[u], i%2 == 0)
		}
	}
	if edit != nil {
		edit(g)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var open []net.Conn
	t.Cleanup(func() {
		l.Close()
		g.mu.Lock()
		for _, c := range open {
			c.Close()
		}
		g.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns++
			open = append(open, c)
			g.mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); g.serve(c) }()
		}
	}()
	return g, l.Addr().String()
}

func (g *asciiGateway) set(f func(g *asciiGateway)) { g.mu.Lock(); f(g); g.mu.Unlock() }

func (g *asciiGateway) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		g.mu.Lock()
		out, drop := g.answer(line)
		g.mu.Unlock()
		if drop {
			return
		}
		if out != nil {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// answer runs one request line; g.mu is held.
func (g *asciiGateway) answer(line []byte) (out []byte, drop bool) {
	if g.drop > 0 {
		g.drop--
		return nil, true
	}
	if g.raw != nil {
		return g.raw(line), false
	}
	_, unit, pdu, err := DecodeASCIIFrame(line)
	regs := g.regs[unit]
	if err != nil || regs == nil {
		return nil, false
	}
	if g.echo {
		out = append(out, line...)
	}
	return append(out, EncodeASCIIFrame(g.start, unit, g.apply(unit, pdu))...), false
}

func (g *asciiGateway) apply(unit uint8, pdu []byte) []byte {
	be := binary.BigEndian
	fc := pdu[0]
	exc := []byte{fc | exceptionFlag, 2}
	if len(pdu) < 5 {
		return []byte{fc | exceptionFlag, 3}
	}
	addr, n := be.Uint16(pdu[1:]), be.Uint16(pdu[3:])
	regs := g.regs[unit]
	switch fc {
	case fcReadHolding, fcReadInput:
		out := []byte{fc, byte(2 * n)}
		for a := addr; a < addr+n; a++ {
			v, ok := regs[a]
			if !ok {
				return exc
			}
			if fc == fcReadInput {
				v += 500
			}
			out = be.AppendUint16(out, v)
		}
		return out
	case fcWriteRegister:
		if _, ok := regs[addr]; !ok {
			return exc
		}
		regs[addr] = n
		return pdu
	case fcWriteRegisters:
		for i := range n {
			if _, ok := regs[addr+i]; !ok {
				return exc
			}
			regs[addr+i] = be.Uint16(pdu[6+2*i:])
		}
		return pdu[:5]
	case fcReadCoils:
		out := []byte{fc, byte((n + 7) / 8)}
		out = append(out, make([]byte, (n+7)/8)...)
		for i := range n {
			if int(addr+i) >= len(g.coils[unit]) {
				return exc
			}
			if g.coils[unit][addr+i] {
				out[2+i/8] |= 1 << (i % 8)
			}
		}
		return out
	case fcWriteCoil:
		if int(addr) >= len(g.coils[unit]) {
			return exc
		}
		g.coils[unit][addr] = n == 0xFF00
		return pdu
	}
	return []byte{fc | exceptionFlag, 1}
}

func asciiClient(t *testing.T, p *Pool, addr string, unit uint8, timeout time.Duration) *Client {
	t.Helper()
	c, err := p.Client(Endpoint{Address: addr, Framing: ASCIIOverTCP, Unit: unit, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestASCIITwoUnitsShareOneConnection: units 1 and 2 behind one gateway
// share one connection and do not mix up, for every function.
func TestASCIITwoUnitsShareOneConnection(t *testing.T) {
	g, addr := newASCIIGateway(t, nil)
	p := newPool(t, PoolConfig{})
	c1, c2 := asciiClient(t, p, addr, 1, 3*time.Second), asciiClient(t, p, addr, 2, 3*time.Second)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, c := range []*Client{c1, c2, c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				tab, base := Holding, uint16(c.Endpoint().Unit)*1000+100
				if i%2 == 1 {
					tab, base = Input, base+500
				}
				r, err := c.Read(ctx, tab, 100, 10)
				if err == nil && (r[0] != base || r[9] != base+9) {
					err = errors.New("wrong unit answered")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := c2.Write(ctx, 105, []uint16{7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := c1.WriteSingle(ctx, 101, 9); err != nil {
		t.Fatal(err)
	}
	if err := c2.WriteCoil(ctx, 3, true); err != nil {
		t.Fatal(err)
	}
	r1, _ := c1.Read(ctx, Holding, 101, 1)
	r2, _ := c2.Read(ctx, Holding, 105, 2)
	k1, _ := c1.ReadCoils(ctx, 0, 4)
	k2, err := c2.ReadCoils(ctx, 0, 4)
	if err != nil || r1[0] != 9 || r2[0] != 7 || r2[1] != 8 || k1[3] || !k2[3] || !k2[0] || k2[1] {
		t.Fatalf("after writes: unit 1 %v %v, unit 2 %v %v, %v", r1, k1, r2, k2, err)
	}
	if s := p.Stats(); s.Conns != 1 || s.Open != 1 || s.Dials != 1 || s.Requests != 87 {
		t.Fatalf("stats = %+v", s)
	}
	g.set(func(g *asciiGateway) {
		if g.conns != 1 {
			t.Fatalf("gateway saw %d connections", g.conns)
		}
	})
}

// TestASCIIReplyStartAndEcho: replies may start with ':' or '>', and a
// gateway that sends the request back first is understood.
func TestASCIIReplyStartAndEcho(t *testing.T) {
	for _, edit := range []func(*asciiGateway){
		func(g *asciiGateway) { g.start = ':' },
		func(g *asciiGateway) { g.start = '>' },
		func(g *asciiGateway) { g.echo = true },
	} {
		_, addr := newASCIIGateway(t, edit)
		c := asciiClient(t, newPool(t, PoolConfig{}), addr, 1, 3*time.Second)
		ctx := context.Background()
		if err := c.Write(ctx, 100, []uint16{42}); err != nil {
			t.Fatal(err)
		}
		if r, err := c.Read(ctx, Holding, 100, 2); err != nil || r[0] != 42 || r[1] != 1101 {
			t.Fatalf("read %v, %v", r, err)
		}
	}
	// Only one echo is skipped: a second copy of the request is no reply.
	_, addr := newASCIIGateway(t, func(g *asciiGateway) {
		g.raw = func(req []byte) []byte { return append(append([]byte{}, req...), req...) }
	})
	c := asciiClient(t, newPool(t, PoolConfig{}), addr, 1, 3*time.Second)
	if _, err := c.Read(context.Background(), Holding, 100, 2); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("double echo: %v", err)
	}
}

// TestASCIIExceptions: exception replies match the same sentinels as the
// library's framings, and keep the connection.
func TestASCIIExceptions(t *testing.T) {
	_, addr := newASCIIGateway(t, nil)
	p := newPool(t, PoolConfig{})
	c := asciiClient(t, p, addr, 1, 3*time.Second)
	ctx := context.Background()
	if _, err := c.Read(ctx, Holding, 105, 10); !errors.Is(err, ErrIllegalAddress) || !errors.Is(err, ErrException) {
		t.Fatalf("err = %v, want illegal data address", err)
	}
	var me *Error
	if _, err := c.Read(ctx, Holding, 105, 10); !errors.As(err, &me) || me.Addr != 105 || me.Count != 10 || me.Unit != 1 {
		t.Fatalf("error detail = %+v", me)
	}
	if s := p.Stats(); s.Dials != 1 || s.Open != 1 {
		t.Fatalf("stats = %+v, want one dial", s)
	}
	for code, want := range map[byte][]error{
		1:    {ErrIllegalFunction, charger.ErrNotSupported},
		2:    {ErrIllegalAddress},
		3:    {ErrIllegalValue, charger.ErrRejected},
		4:    {ErrDeviceFailure},
		5:    {ErrAcknowledge},
		6:    {ErrDeviceBusy},
		8:    {ErrMemoryParity},
		10:   {ErrGatewayPath},
		11:   {ErrGatewayTarget},
		0x42: {ErrException},
	} {
		_, addr := newASCIIGateway(t, func(g *asciiGateway) {
			g.raw = func([]byte) []byte { return EncodeASCIIFrame('>', 1, []byte{0x90, code}) }
		})
		err := asciiClient(t, p, addr, 1, 3*time.Second).Write(ctx, 100, []uint16{1})
		for _, w := range append(want, ErrException) {
			if !errors.Is(err, w) {
				t.Errorf("exception %d: err = %v, want %v", code, err, w)
			}
		}
		if kind, _, _ := classify(exception(code)); !errors.Is(err, kind) {
			t.Errorf("exception %d: %v is not what classify makes of the library's error", code, err)
		}
	}
}

// TestASCIIBadReplies: what is not a reply to the request fails it as a
// bad frame (or a timeout when the reply never ends), and drops the
// connection so that a late reply cannot be taken for the next one.
func TestASCIIBadReplies(t *testing.T) {
	goodReply := EncodeASCIIFrame('>', 1, []byte{fcReadHolding, 4, 0, 1, 0, 2})
	badLRC := []byte(">01030A2EB2910B03E803E803E8B6\r\n")
	for name, c := range map[string]struct {
		answer []byte
		want   error
	}{
		"bad LRC":            {badLRC, ErrBadFrame},
		"truncated frame":    {[]byte(">01030A2EB2\r\n"), ErrBadFrame},
		"truncated, silence": {badLRC[:12], ErrTimeout},
		"binary garbage":     {[]byte{0, 0xff, 0x10, 0x83, '\n'}, ErrBadFrame},
		"endless line":       {bytes.Repeat([]byte("A"), 2000), ErrBadFrame},
		"web server":         {[]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), ErrBadFrame},
		"other unit":         {EncodeASCIIFrame('>', 2, []byte{fcReadHolding, 4, 0, 1, 0, 2}), ErrBadFrame},
		"other function":     {EncodeASCIIFrame('>', 1, []byte{fcReadInput, 4, 0, 1, 0, 2}), ErrBadFrame},
		"wrong word count":   {EncodeASCIIFrame('>', 1, []byte{fcReadHolding, 2, 0, 1}), ErrBadFrame},
		"long exception":     {EncodeASCIIFrame('>', 1, []byte{0x83, 2, 0}), ErrBadFrame},
		"nothing":            {nil, ErrTimeout},
		"garbage then reply": {append([]byte("\x00\x13garbage\r\n"), goodReply...), ErrBadFrame},
	} {
		_, addr := newASCIIGateway(t, func(g *asciiGateway) { g.raw = func([]byte) []byte { return c.answer } })
		p := newPool(t, PoolConfig{})
		_, err := asciiClient(t, p, addr, 1, 300*time.Millisecond).Read(context.Background(), Holding, 100, 2)
		if !errors.Is(err, c.want) || c.want == ErrBadFrame && !errors.Is(err, charger.ErrBadReply) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
		waitFor(t, name+": connection dropped", func() bool { return p.Stats().Open == 0 })
	}
}

// TestASCIIReconnect: a read on a connection the gateway closed is
// retried once on a new one; a write is not.
func TestASCIIReconnect(t *testing.T) {
	g, addr := newASCIIGateway(t, nil)
	p := newPool(t, PoolConfig{BackoffMin: 5 * time.Millisecond})
	c := asciiClient(t, p, addr, 1, 3*time.Second)
	ctx := context.Background()
	if _, err := c.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatal(err)
	}
	g.set(func(g *asciiGateway) { g.drop = 1 })
	if _, err := c.Read(ctx, Holding, 100, 1); err != nil {
		t.Fatalf("read after one drop: %v", err)
	}
	g.set(func(g *asciiGateway) { g.drop = 1 })
	if err := c.Write(ctx, 100, []uint16{1}); !errors.Is(err, ErrConnection) {
		t.Fatalf("write err = %v, want ErrConnection", err)
	}
	waitFor(t, "reconnect", func() bool { return c.Write(ctx, 100, []uint16{1}) == nil })
	if s := p.Stats(); s.Dials != 3 {
		t.Fatalf("dials = %d, want 3", s.Dials)
	}
}

// TestASCIIContextEndsRequest: unlike the library's links, the ASCII link
// stops a request when its caller gives up, and drops the connection.
func TestASCIIContextEndsRequest(t *testing.T) {
	_, addr := newASCIIGateway(t, func(g *asciiGateway) { g.raw = func([]byte) []byte { return nil } })
	p := newPool(t, PoolConfig{})
	c := asciiClient(t, p, addr, 1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, Holding, 100, 2); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's timeout", err)
	}
	waitFor(t, "connection dropped", func() bool { return p.Stats().Open == 0 })
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	if _, err := c.Read(ctx2, Holding, 100, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
