package nats_test

import (
	"context"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

const envNATSURL = "TRADEBUS_TEST_NATS_URL"

// connect returns a connection to the test NATS, closed at cleanup. An
// unreachable server or one without JetStream fails the test.
func connect(t testing.TB) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(brokertest.URL(t, envNATSURL), natsgo.MaxReconnects(-1), natsgo.Name("tradebus-test"))
	if err != nil {
		t.Fatalf("nats at %s unreachable: %v", envNATSURL, err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("jetstream at %s: %v", envNATSURL, err)
	}
	return nc
}

// uniquePrefix returns a subject prefix for this test and deletes every
// stream named after it (and so their consumers) at cleanup.
func uniquePrefix(t testing.TB, nc *natsgo.Conn) string {
	t.Helper()
	p := "tbtest" + brokertest.RandomSuffix()
	t.Cleanup(func() { deleteStreams(t, nc, p) })
	return p
}

func deleteStreams(t testing.TB, nc *natsgo.Conn, prefix string) {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	var mine []string
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix+"_") {
			mine = append(mine, n)
		}
	}
	if err := names.Err(); err != nil {
		t.Errorf("list streams: %v", err)
	}
	for _, n := range mine {
		if err := js.DeleteStream(ctx, n); err != nil {
			t.Errorf("delete stream %s: %v", n, err)
		}
	}
}

// newTransport returns a Transport on nc, closed at cleanup.
func newTransport(t testing.TB, nc *natsgo.Conn, opts ...nats.Option) *nats.Transport {
	t.Helper()
	tr, err := nats.New(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	brokertest.CloseAtCleanup(t, tr)
	return tr
}
