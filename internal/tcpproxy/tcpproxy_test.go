package tcpproxy_test

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/internal/tcpproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer listens on a free port and echoes every connection until the
// test ends.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// dial connects through p (with TLS when cfg is set).
func dial(p *tcpproxy.Proxy, cfg *tls.Config) (net.Conn, error) {
	if cfg != nil {
		return tls.Dial("tcp", p.Addr(), cfg)
	}
	return net.Dial("tcp", p.Addr())
}

// roundTrip writes and reads back four bytes on c.
func roundTrip(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	_, err := io.ReadFull(c, b)
	return err
}

func echo(p *tcpproxy.Proxy) error {
	c, err := dial(p, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c)
}

// TestProxy: bytes pass through the proxy; Cut closes the connection and
// refuses new ones; Restore accepts them again; Hold keeps bytes back
// until Release (forwarded then) or Cut (lost).
func TestProxy(t *testing.T) {
	p := tcpproxy.New(t, echoServer(t), nil)
	if err := echo(p); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := echo(p); err == nil {
		t.Fatal("a round trip succeeded after Cut")
	}
	p.Restore()
	if err := echo(p); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	// Hold keeps bytes back until Release (forwarded then) or Cut (lost).
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	p.Hold()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	p.Release()
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "held" {
		t.Fatalf("after Release: %q, %v", b, err)
	}
	p.Hold()
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if n, err := c.Read(b); err == nil {
		t.Fatalf("read %q after Hold and Cut", b[:n])
	}
	p.Restore()
}

// TestRefuseAndDrop: Refuse keeps the proxied connections and refuses new
// ones, signalling the first refusal; Drop closes the proxied connections
// and counts their sockets, and new ones are accepted.
func TestRefuseAndDrop(t *testing.T) {
	p := tcpproxy.New(t, echoServer(t), nil)
	c, err := dial(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	refused := p.Refuse()
	select {
	case <-refused:
		t.Fatal("refusal signalled before any connection was refused")
	default:
	}
	if err := echo(p); err == nil {
		t.Fatal("a new connection got through while refusing")
	}
	select {
	case <-refused:
	case <-time.After(10 * time.Second):
		t.Fatal("the refusal was not signalled")
	}
	if err := roundTrip(c); err != nil {
		t.Fatalf("an established connection stopped while refusing: %v", err)
	}
	p.Restore()
	if n := p.Drop(); n != 2 {
		t.Errorf("Drop closed %d sockets, want 2 (one connection, both sides)", n)
	}
	if err := roundTrip(c); err == nil {
		t.Fatal("a round trip succeeded on a dropped connection")
	}
	if err := echo(p); err != nil {
		t.Fatalf("a new connection after Drop: %v", err)
	}
}
