// Package tcpproxy is an in-process TCP proxy to a broker that a test can
// take away and bring back, to check what a client does when its broker
// connection is gone, without disturbing other users of a shared broker.
package tcpproxy

import (
	"crypto/tls"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards each connection it accepts to its target. A test can
// drop the connections it holds (Drop), refuse new ones (Refuse), both at
// once (Cut) and accept again (Restore), or stall forwarding (Hold,
// Release). Safe for concurrent use; closed at the test's cleanup.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	refusing bool
	refused  chan struct{} // closed at the first connection refused since Refuse or Cut
	closed   bool
	held     chan struct{} // non-nil while held: closed by Release and Cut
	wg       sync.WaitGroup
}

// New listens on a free loopback port and forwards each connection to
// target ("host:port"). With a TLS config the proxy terminates TLS, so
// that a client can speak TLS to a plain broker.
func New(t testing.TB, target string, tlsConfig *tls.Config) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, refused: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drop closes every proxied connection (both sides) and returns how many
// sockets it closed; new connections are accepted. Bytes a Hold kept back
// are lost.
func (p *Proxy) Drop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drop()
}

func (p *Proxy) drop() int {
	n := len(p.conns)
	for c := range p.conns {
		_ = c.Close()
	}
	p.release()
	return n
}

// Refuse closes every new connection at once until Restore; the
// connections already proxied stay. The channel it returns is closed when
// a connection has been refused (a client tried again).
func (p *Proxy) Refuse() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refuse()
}

func (p *Proxy) refuse() <-chan struct{} {
	if !p.refusing {
		p.refusing, p.refused = true, make(chan struct{})
	}
	return p.refused
}

// Cut is Refuse and Drop: the broker is gone until Restore. The channel it
// returns is closed when a connection has been refused since.
func (p *Proxy) Cut() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.refuse()
	p.drop()
	return ch
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.refusing = false
	p.mu.Unlock()
}

// Hold stops forwarding, in both directions, until Release or Drop: what
// either side sends meanwhile is read and kept back (lost by a Drop). The
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

// refusing reports whether c must be refused, and signals it.
func (p *Proxy) refuseConn() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.refusing {
		return false
	}
	select {
	case <-p.refused:
	default:
		close(p.refused)
	}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuseConn() {
			_ = c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed || p.refusing {
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

// ForURL returns a proxy to the host of rawURL (defaultPort when it names
// none) and rawURL rewritten to go through it.
func ForURL(t testing.TB, rawURL, defaultPort string, tlsConfig *tls.Config) (*Proxy, *url.URL) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	p := New(t, target, tlsConfig)
	u.Host = p.Addr()
	return p, u
}
