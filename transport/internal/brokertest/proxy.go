package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/internal/tcpproxy"
)

// Proxy is an in-process TCP proxy to a broker (see tcpproxy.Proxy).
type Proxy = tcpproxy.Proxy

// NewProxy listens on a free loopback port and forwards each connection
// to target ("host:port").
func NewProxy(t testing.TB, target string) *Proxy { return tcpproxy.New(t, target, nil) }

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
