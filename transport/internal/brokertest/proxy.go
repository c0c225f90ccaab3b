package brokertest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is an in-process TCP proxy to a broker that a test can take away
// (Cut: every connection closed, new ones refused) and bring back
// (Restore), to check what a client does when its broker connection is
// gone. Safe for concurrent use; closed at the test's cleanup.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	refused bool
	closed  bool
	held    chan struct{} // non-nil while held: closed by Release and Cut
	wg      sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards each connection
// to target ("host:port").
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every proxied connection and refuses new ones until Restore.
// Bytes a Hold kept back are lost.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.release()
}

// Hold stops forwarding, in both directions, until Release or Cut: what
// either side sends meanwhile is read and kept back (lost by a Cut). The
// sender sees it written, as when a network path stalls: a broker can
// count a delivery made that its client never gets.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// Release forwards again, what Hold kept back first.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release()
}

func (p *Proxy) release() {
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}

// waitHeld returns once p is not held.
func (p *Proxy) waitHeld() {
	for {
		p.mu.Lock()
		h := p.held
		p.mu.Unlock()
		if h == nil {
			return
		}
		<-h
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.refused = false
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refused := p.refused
		p.mu.Unlock()
		if refused {
			_ = c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed || p.refused {
			p.mu.Unlock()
			_ = c.Close()
			_ = b.Close()
			continue
		}
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitHeld()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// CheckPing checks a transport's Ping across an outage of p, through
// which tr reaches its broker: Ping answers nil, fails while p is cut,
// and answers again after Restore. The first Ping and each wait are
// bounded by timeout; the Pings of the waits by a second each (a Ping
// sent just as the connection is cut may wait for an answer that never
// comes: the next one is sent on the new connection).
func CheckPing(t testing.TB, tr interface{ Ping(context.Context) error }, p *Proxy, timeout time.Duration) {
	t.Helper()
	ping := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return tr.Ping(ctx)
	}
	if err := ping(timeout); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	p.Cut()
	waitUntil(t, timeout, "Ping to fail while the broker is cut off", func() bool { return ping(time.Second) != nil })
	p.Restore()
	waitUntil(t, timeout, "Ping to answer once the broker is back", func() bool { return ping(time.Second) == nil })
}

// waitUntil polls cond until it holds, failing t after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
