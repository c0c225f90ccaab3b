package nats_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs the tradebus conformance suite against the real
// NATS JetStream through the portable core. Capabilities, honestly: keys
// run in parallel; a nacked message is redelivered by the core in process,
// before later messages of its key (OrderAfterNack); members of a
// group pull from one durable consumer and share it, without key order
// across members; groups are durable consumers, and a cancelled member's
// messages are NAKed back at once.
//
// The transports reach NATS through a proxy on a connection of their own
// (nc, direct, only makes names and cleans up), so that AsyncOutage and
// Ping can take the server away from them (cut every connection, refuse
// new ones) and bring it back, without touching the shared server.
func TestConformance(t *testing.T) {
	nc := connect(t)
	u, err := url.Parse(brokertest.URL(t, envNATSURL))
	if err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, u.Host)
	u.Host = p.Addr()
	// Each subtest's transport has a connection of its own, so that one
	// that lived through an outage is not reused by the next subtest.
	viaProxy := func(t *testing.T) *natsgo.Conn {
		nc, err := natsgo.Connect(u.String(), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	caps := transporttest.Capabilities{
		KeepsHistory:       true,
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: false,
		DurableGroups:      true,
		// Above the default AckWait (30 s): a message the server handed to
		// a pull request that a connection cut lost is redelivered only
		// after it (AsyncOutage hit this under load).
		Timeout: 45 * time.Second,
		URL:     brokertest.URL(t, envNATSURL),
		Outage: func(*testing.T) func() {
			p.Cut()
			return p.Restore
		},
		GroupState: func(t *testing.T, tr transport.Transport, group, pattern string) bool {
			return consumerExists(t, nc, drv(tr).Stream(pattern), nats.ConsumerName(group, pattern))
		},
	}
	newTr := func(core ...transport.Option) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			prefix := uniquePrefix(t, nc)
			// SubscribeCancel waits for the channel to close while a
			// message is out: the drain must end within the suite's
			// Timeout (the core's default close timeout is 30s).
			core = append([]transport.Option{transport.WithCloseTimeout(2 * time.Second)}, core...)
			return newTransportWith(t, viaProxy(t), core, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
		}
	}
	t.Run("default", func(t *testing.T) {
		transporttest.Run(t, newTr(), caps)
	})
	t.Run("concurrency=1", func(t *testing.T) {
		caps := caps
		caps.ParallelKeys = false
		transporttest.Run(t, newTr(transport.WithConcurrency(1)), caps)
	})
}

// consumerExists asks JetStream, on a client of its own, whether stream
// has the durable consumer.
func consumerExists(t *testing.T, nc *natsgo.Conn, stream, consumer string) bool {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = js.Consumer(ctx, stream, consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("consumer info %s of %s: %v", consumer, stream, err)
	}
	return true
}
