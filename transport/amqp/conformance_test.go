package amqp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs tradebus' transport conformance suite against the
// real broker. Capabilities, honestly:
//   - ParallelKeys: the core hands out up to WithConcurrency keys at once.
//   - ConsumerGroupShare: members of a group are competing consumers of
//     one queue; RabbitMQ round-robins between them.
//   - DurableGroups: durable queues keep messages while a group has no
//     member, and unacked messages return to the queue.
//   - OrderAfterNack: the core redelivers a nacked message in-process,
//     before any later message of its key.
//   - not OrderAcrossMembers: two consumers of one queue each hold some
//     messages of a key.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	// Every transport of the suite reaches the broker through a proxy, so
	// that AsyncOutage can take the broker away (refuse and cut every
	// connection) and bring it back.
	p, viaProxy := proxyFor(t, e.url, "", nil)
	transporttest.Run(t, func(t *testing.T) transport.Transport {
		// A short drain: the suite cancels subscriptions holding an
		// unacked message.
		return e.transportURL(t, viaProxy, transport.WithCloseTimeout(time.Second))
	}, transporttest.Capabilities{
		Outage: func(*testing.T) func() {
			p.Cut()
			return func() { p.Restore() }
		},
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		DurableGroups:      true,
		// OptionBounds opens transports on the test's exchange (deleted
		// at the end of the test).
		URL: e.url + sepQuery(e.url) + "exchange=" + e.exchange,
		// AMQP reports ready messages only.
		LagUnknown: []string{"InFlight", "Unacked"},
		GroupState: func(t *testing.T, tr transport.Transport, group, pattern string) bool {
			return queueExists(t, e.url, tr.(recTransport).QueueName(group, pattern))
		},
	})
}

// sepQuery is the separator that adds a query parameter to raw.
func sepQuery(raw string) string {
	if strings.Contains(raw, "?") {
		return "&"
	}
	return "?"
}

// queueExists asks the broker on a connection of its own whether queue
// exists (a passive declare).
func queueExists(t *testing.T, rawURL, queue string) bool {
	t.Helper()
	conn, err := amqp091.Dial(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	var aerr *amqp091.Error
	if errors.As(err, &aerr) && aerr.Code == amqp091.NotFound {
		return false
	}
	if err != nil {
		t.Fatalf("passive declare of %s: %v", queue, err)
	}
	_ = ch.Close()
	return true
}
