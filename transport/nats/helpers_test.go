package nats_test

import (
	"context"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
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

// newDriver returns a Driver on nc; the Transport that runs it closes it.
func newDriver(t testing.TB, nc *natsgo.Conn, opts ...nats.Option) *nats.Driver {
	t.Helper()
	d, err := nats.NewDriver(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newTransport returns the portable core on a Driver on nc with opts,
// closed at cleanup.
func newTransport(t testing.TB, nc *natsgo.Conn, opts ...nats.Option) *transport.Portable {
	t.Helper()
	return newTransportWith(t, nc, nil, opts...)
}

// newTransportWith is newTransport with the core's options.
func newTransportWith(t testing.TB, nc *natsgo.Conn, core []transport.Option, opts ...nats.Option) *transport.Portable {
	t.Helper()
	tr, err := transport.New(newDriver(t, nc, opts...), core...)
	if err != nil {
		t.Fatal(err)
	}
	brokertest.CloseAtCleanup(t, tr)
	return tr
}

// drv returns the Driver under tr.
func drv(tr transport.Transport) *nats.Driver {
	return tr.(interface{ Driver() driver.Driver }).Driver().(*nats.Driver)
}
