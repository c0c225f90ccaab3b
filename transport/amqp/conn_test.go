package amqp

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

// recConn is a net.Conn that records the writes reaching the socket.
type recConn struct {
	net.Conn // nil: only the methods below are used
	writes   []string
	fail     error
	closed   bool
	deadline time.Time
}

func (c *recConn) Write(b []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, string(b))
	return len(b), nil
}

func (c *recConn) SetWriteDeadline(t time.Time) error { c.deadline = t; return nil }
func (c *recConn) Close() error                       { c.closed = true; return nil }

// TestCork: writes go to the socket at once, each with a deadline; corked
// (nested), they reach it in one write after the last uncork.
func TestCork(t *testing.T) {
	rec := &recConn{}
	c := &writeDeadlineConn{Conn: rec, timeout: time.Minute}
	write := func(s string) {
		t.Helper()
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("write %q: %d, %v", s, n, err)
		}
	}
	write("a")
	if !slices.Equal(rec.writes, []string{"a"}) || time.Until(rec.deadline) <= 0 {
		t.Fatalf("uncorked: writes %q, deadline %v", rec.writes, rec.deadline)
	}
	c.cork()
	write("b")
	c.cork()
	write("c")
	c.uncork()
	write("d")
	if len(rec.writes) != 1 {
		t.Fatalf("corked: writes %q reached the socket", rec.writes[1:])
	}
	c.uncork()
	write("e")
	if want := []string{"a", "bcd", "e"}; !slices.Equal(rec.writes, want) {
		t.Fatalf("writes %q, want %q", rec.writes, want)
	}

	// A write larger than the buffer goes through while corked.
	c.cork()
	big := string(make([]byte, corkBuffer+1))
	write(big)
	if len(rec.writes) != 4 || rec.writes[3] != big {
		t.Fatalf("a write of %d bytes was held", len(big))
	}
	c.uncork()

	// A failed write after the last uncork closes the connection.
	c.cork()
	write("f")
	rec.fail = errors.New("broken pipe")
	c.uncork()
	if !rec.closed {
		t.Fatal("connection not closed after a failed write")
	}
}
