// Command tradebus-dlq inspects and replays a tradebus poison queue (dead
// letter topic), the one filled by middleware.Poison.
//
//	tradebus-dlq init   -url URL -group GROUP [-reader dlq]
//	tradebus-dlq list   -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-json]
//	tradebus-dlq replay -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-to-group G] [-dry-run]
//
// -group names the consumer group whose dead letters to read: its poison
// topic is deadletter.<group> (or give the topic with -topic). The URL
// comes from -url or, without it, from $TRADEBUS_URL — the same names as
// every tradebus program. The same commands are "tradebus dlq …".
//
// Filters: -class permanent|transient|panic, -type tradebus.trade.v1,
// -key trade.*.BTCUSDT (a routing-key pattern), -reason SUBSTRING, -since and
// -until (RFC 3339, compared with the last failure time).
//
// The poison queue is read as consumer group -reader (default "dlq"). On
// brokers that keep messages only for existing subscriptions (RabbitMQ
// queues, NATS consumers, Redis groups at "new"), run init once at
// deployment so that the group's subscription exists before the first
// message is poisoned.
//
// list (and replay -dry-run) reads without consuming: nothing is acked,
// claimed or appended, and listing again shows the same dead letters (on
// RabbitMQ quorum queues the listed messages are put back as identical
// copies in the same order; see transport/amqp's Driver.Browse). replay
// republishes the matching dead letters to their original routing key —
// same event id and correlation id — addressed to the consumer group that
// failed each one (or -to-group), so no other group handles the event
// again, and puts the others back. It lists first, so it stops once it has
// been through the listed messages; -idle bounds the wait for one another
// reader took meanwhile.
//
// Broker URLs are those of transport.Open (mem://, amqp://, kafka://, redis://,
// nats://); credentials never appear in output. Exit status: 0 on success, 1 on
// error, 2 on bad usage. The commands are package internal/dlqcli's.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/tradebus/tradebus/internal/dlqcli"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(dlqcli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, open))
}

func open(ctx context.Context, url string) (transport.Transport, error) {
	return transport.Open(ctx, url)
}
