package modbussim

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestListenStream: every connection is served; stop closes the open
// ones and returns once their serve has.
func TestListenStream(t *testing.T) {
	served := make(chan struct{}, 2)
	addr, stop, err := ListenStream("127.0.0.1:0", func(c net.Conn) {
		io.Copy(c, c)
		served <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
		conns = append(conns, c)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(served) != 2 {
		t.Fatalf("%d connections ended", len(served))
	}
	for _, c := range conns {
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("connection still open: %v", err)
		}
	}
	if _, _, err := ListenStream("127.0.0.1:x", nil); err == nil {
		t.Error("bad address accepted")
	}
}
