package amqp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

// counter counts deliveries per message UUID.
type counter struct {
	mu    sync.Mutex
	seen  map[string]int
	dups  int
	total int
	all   chan struct{}
	want  int
}

func newCounter(want int) *counter {
	return &counter{seen: map[string]int{}, all: make(chan struct{}), want: want}
}

func (c *counter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.seen[id]++
	if c.seen[id] > 1 {
		c.dups++
	}
	if len(c.seen) == c.want && c.seen[id] == 1 {
		close(c.all)
	}
}

func (c *counter) stats() (distinct, dups, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), c.dups, c.total
}

// consumeAll acks every message from ch into c until ch closes.
func consumeAll(ch <-chan *message.Message, c *counter) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range ch {
			c.add(m.UUID)
			m.Ack()
		}
	})
	return &wg
}

// publishAll publishes n messages from workers goroutines, each message
// retried until the broker confirmed it (as an application or the outbox
// would), and calls after(i) once i messages were confirmed. It returns the
// ids and the number of failed attempts.
func publishAll(t *testing.T, pub message.Publisher, n, workers int, after func(confirmed int)) ([]string, int64) {
	t.Helper()
	ids := make([]string, n)
	next := atomic.Int64{}
	confirmed := atomic.Int64{}
	failures := atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				key := "cut.x.S" + strconv.Itoa(i%16)
				m := newMsg(key, "S"+strconv.Itoa(i%16))
				ids[i] = m.UUID
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					m.SetContext(ctx)
					err := pub.Publish(key, m)
					cancel()
					if err == nil {
						break
					}
					failures.Add(1)
					if !errors.Is(err, amqp.ErrConnection) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("publish: unexpected error %v", err)
						return
					}
					if attempt > 100 {
						t.Errorf("publish: giving up: %v", err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				after(int(confirmed.Add(1)))
			}
		})
	}
	wg.Wait()
	return ids, failures.Load()
}

// TestProxyCut cuts every connection between client and broker twice while
// 3000 confirmed publishes run, then checks every event arrived.
func TestProxyCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p, raw := proxyFor(t, e.url, "", nil)
	tr := e.transportURL(t, raw, transport.WithConcurrency(16))
	ch := subscribe(t, tr, "cut", "cut.#")
	const n = 3000
	c := newCounter(n)
	done := consumeAll(ch, c)

	var cuts atomic.Int64
	cutAt := map[int]bool{n / 3: true, 2 * n / 3: true}
	var cutWG sync.WaitGroup
	ids, failures := publishAll(t, tr.Publisher(), n, 8, func(confirmed int) {
		if cutAt[confirmed] {
			cutWG.Go(func() { cuts.Add(int64(p.Drop())) })
		}
	})
	cutWG.Wait()
	select {
	case <-c.all:
	case <-time.After(60 * time.Second):
		distinct, _, _ := c.stats()
		t.Fatalf("received %d of %d distinct events", distinct, n)
	}
	distinct, dups, total := c.stats()
	for _, id := range ids {
		c.mu.Lock()
		ok := c.seen[id] > 0
		c.mu.Unlock()
		if !ok {
			t.Fatalf("event %s lost", id)
		}
	}
	if cuts.Load() == 0 {
		t.Fatal("the proxy cut nothing")
	}
	t.Logf("%d events, %d distinct, %d duplicates, %d deliveries, %d failed publish attempts, %d sockets cut",
		n, distinct, dups, total, failures, cuts.Load())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	done.Wait()
}

// TestOutageWaitsForReconnect: a publish during a short outage waits (within
// its timeout) and succeeds once the broker is back.
func TestOutageWaitsForReconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p, raw := proxyFor(t, e.url, "", nil)
	tr := e.transportURL(t, raw, amqp.WithPublishTimeout(10*time.Second))
	ch := subscribe(t, tr, "g", "trade.#")
	if err := tr.Publisher().Publish("trade.a.b", newMsg("trade.a.b", "")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	// A publish racing the cut may fail (its channel dies under it) or
	// wait; either way it returns within its context.
	m := newMsg("trade.a.b", "")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	m.SetContext(ctx)
	if err := tr.Publisher().Publish("trade.a.b", m); !errors.Is(err, amqp.ErrConnection) {
		t.Fatalf("publish while the broker is unreachable: %v", err)
	}
	// Now the loss is known: the next publish waits for the reconnect.
	time.AfterFunc(500*time.Millisecond, func() { p.Restore() })
	start := time.Now()
	if err := tr.Publisher().Publish("trade.a.b", newMsg("trade.a.b", "")); err != nil {
		t.Fatalf("publish after %s: %v", time.Since(start), err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("publish returned after %s, before the broker was reachable again", d)
	}
	receive(t, ch, 2, 20*time.Second)
}

// TestTLS connects through a TLS-terminating proxy with amqps:// and a CA
// file; without the CA the dial fails at once with a verification error.
func TestTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	caPEM, serverCert := testCerts(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, raw := proxyFor(t, e.url, "amqps", &tls.Config{Certificates: []tls.Certificate{serverCert}})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("ca", caFile)
	q.Set("exchange", e.exchange)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opened, err := transport.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	tr := opened.(*transport.Portable)
	rt := recTransport{Portable: tr, drv: tr.Driver().(*amqp.Driver), clean: e.clean}
	defer func() { _ = tr.Close(context.Background()) }()
	ch := subscribe(t, rt, "g", "trade.#")
	if err := tr.Publisher().Publish("trade.a.b", newMsg("trade.a.b", "")); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, 1, 10*time.Second)

	q.Del("ca")
	u.RawQuery = q.Encode()
	_, err = amqp.Open(ctx, u)
	var uerr x509.UnknownAuthorityError
	if !errors.Is(err, amqp.ErrConnection) || !errors.As(err, &uerr) {
		t.Fatalf("without CA: %v", err)
	}
}

// testCerts makes a CA and a server certificate for 127.0.0.1.
func testCerts(t *testing.T) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tradebus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
