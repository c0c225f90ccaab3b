package amqp_test

import (
	"crypto/tls"
	"testing"

	"github.com/tradebus/tradebus/internal/tcpproxy"
)

// proxyFor returns an in-process proxy to the broker of rawURL and rawURL
// rewritten to go through it (with scheme, if not empty). With a TLS
// config the proxy terminates TLS (for amqps:// tests against a plain
// broker).
func proxyFor(t testing.TB, rawURL, scheme string, tlsConfig *tls.Config) (*tcpproxy.Proxy, string) {
	t.Helper()
	p, u := tcpproxy.ForURL(t, rawURL, "5672", tlsConfig)
	if scheme != "" {
		u.Scheme = scheme
	}
	return p, u.String()
}
