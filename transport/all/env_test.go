package all_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

// TestOpenGivesDriversTheTLSConfig: transport.WithTLSConfig reaches the
// broker client of amqps://, kafka:// and redis:// URLs — the client
// shakes hands with a TLS server using exactly that config (its
// VerifyConnection runs) — and NATS's (the real server, without TLS, is
// then refused: the client requires it).
func TestOpenGivesDriversTheTLSConfig(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the test fails on purpose
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	for _, raw := range []string{"amqps://guest:guest@" + addr + "/", "kafka://" + addr, "redis://" + addr + "/0"} {
		scheme := raw[:strings.Index(raw, ":")]
		t.Run(scheme, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var used atomic.Bool
			cfg := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(tls.ConnectionState) error {
				used.Store(true)
				cancel() // seen: no need to wait for the protocol to fail
				return errors.New("test: handshake seen")
			}}
			tr, err := transport.Open(ctx, raw, transport.WithTLSConfig(cfg), transport.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				_ = tr.Close(context.Background())
				t.Fatal("Open against an HTTPS server succeeded")
			}
			if !used.Load() {
				t.Errorf("the TLS config was not used (Open: %v)", err)
			}
		})
	}
	t.Run("nats", func(t *testing.T) {
		raw := os.Getenv("TRADEBUS_TEST_NATS_URL")
		if raw == "" {
			t.Skip("set TRADEBUS_TEST_NATS_URL to run")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tr, err := transport.Open(ctx, raw, transport.WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
		if err == nil {
			_ = tr.Close(ctx)
			t.Fatal("Open with a TLS config against a plain NATS server succeeded")
		}
		tr, err = transport.Open(ctx, raw)
		if err != nil {
			t.Fatalf("Open without a TLS config: %v", err)
		}
		_ = tr.Close(ctx)
	})
}

// recorder is a slog handler that keeps the messages it gets.
type recorder struct {
	mu   sync.Mutex
	msgs []string
	seen func(msg string)
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	if r.seen != nil {
		r.seen(rec.Message)
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }
func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

// TestOpenGivesDriversTheLogger: transport.WithLogger reaches the
// drivers: the franz-go client's warnings and the RabbitMQ driver's
// connection log (an unreachable broker) come out of the given logger.
func TestOpenGivesDriversTheLogger(t *testing.T) {
	t.Run("kafka", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rec := &recorder{seen: func(string) { cancel() }}
		tr, err := transport.Open(ctx, "kafka://127.0.0.1:1", transport.WithLogger(slog.New(rec)))
		if err == nil {
			_ = tr.Close(context.Background())
			t.Fatal("Open of an unreachable broker succeeded")
		}
		if got := rec.all(); got == "" {
			t.Errorf("nothing logged through WithLogger's logger (Open: %v)", err)
		}
	})
	t.Run("amqp", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rec := &recorder{seen: func(string) { cancel() }}
		tr, err := transport.Open(ctx, "amqp://guest:guest@127.0.0.1:1/", transport.WithLogger(slog.New(rec)))
		if err == nil {
			_ = tr.Close(context.Background())
			t.Fatal("Open of an unreachable broker succeeded")
		}
		if got := rec.all(); !strings.Contains(got, "amqp: cannot connect") {
			t.Errorf("logged %q, want the driver's \"amqp: cannot connect\" (Open: %v)", got, err)
		}
	})
}
