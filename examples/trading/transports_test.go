package main

import (
	"context"
	"os"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/internal/brokerns"
)

// The library's promise: switching brokers is a URL, not a rewrite. The
// same seed must give the same final portfolio and the same count of
// handled events on every transport.

// subscriptions are the (consumer group, pattern) pairs the example
// subscribes, i.e. the queues it declares on RabbitMQ.
var subscriptions = []brokerns.Subscription{
	{Group: "strategy", Pattern: "ticker.#"}, {Group: "executor", Pattern: "signal.#"},
	{Group: "venue", Pattern: "order.*.*"}, {Group: "portfolio", Pattern: "exec.#"},
	{Group: "portfolio", Pattern: "trade.*.*"}, {Group: "risk", Pattern: "position.#"},
	// The dead-letter reader's, created by middleware.WithPoisonKept.
	{Group: deadLetterReader, Pattern: "deadletter.strategy"}, {Group: deadLetterReader, Pattern: "deadletter.executor"},
	{Group: deadLetterReader, Pattern: "deadletter.venue"}, {Group: deadLetterReader, Pattern: "deadletter.portfolio"},
	{Group: deadLetterReader, Pattern: "deadletter.risk"},
	// The risk service's pre-trade requests (the client's reply group is
	// removed by rpc.Client.Close).
	{Group: "pretrade", Pattern: "req.pretrade.order.#"}, {Group: deadLetterReader, Pattern: "deadletter.pretrade"},
}

// brokerURL returns the URL of a transport under test and a namespace of
// its own, registering the removal of everything the run creates.
func brokerURL(t *testing.T, scheme string) (string, string) {
	t.Helper()
	env := map[string]string{
		"amqp":  "TRADEBUS_TEST_AMQP_URL",
		"redis": "TRADEBUS_TEST_REDIS_URL",
		"nats":  "TRADEBUS_TEST_NATS_URL",
		"kafka": "TRADEBUS_TEST_KAFKA_BROKERS",
	}[scheme]
	raw := os.Getenv(env)
	if scheme == "kafka" {
		if raw == "" {
			return "kafka://", brokerns.Unique() // embedded cluster, gone with the run
		}
		raw = "kafka://" + raw
	}
	if raw == "" {
		t.Skipf("set %s to run", env)
	}
	ns := brokerns.Unique()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, brokerns.Remove(ctx, raw, ns, subscriptions))
	})
	return raw, ns
}

// requireSameTrading checks that two runs computed the same: signals,
// orders, fills, positions, PnL and risk checks.
func requireSameTrading(t *testing.T, want, got *Summary) {
	t.Helper()
	require.Equal(t, want.Lines, got.Lines, "same final portfolio")
	require.Equal(t, want.Buys, got.Buys)
	require.Equal(t, want.Sells, got.Sells)
	require.Equal(t, want.Orders, got.Orders)
	require.Equal(t, want.Acks, got.Acks)
	require.Equal(t, want.Partial, got.Partial)
	require.Equal(t, want.Filled, got.Filled)
	require.Equal(t, want.Realized, got.Realized)
	require.Equal(t, want.Unrealized, got.Unrealized)
	require.Equal(t, want.Exposure, got.Exposure)
}

func TestSameResultOnEveryTransport(t *testing.T) {
	cfg := defaultConfig()
	cfg.Seed, cfg.Ticks = 2026, 60
	want := run(t, cfg)
	require.Positive(t, want.Partial+want.Filled, "the run produced fills")

	for _, scheme := range []string{"amqp", "kafka", "redis", "nats"} {
		t.Run(scheme, func(t *testing.T) {
			c := cfg
			c.URL, c.Namespace = brokerURL(t, scheme)
			got := run(t, c)
			require.Equal(t, scheme, got.Transport)
			require.Equal(t, scheme != "amqp", got.Portfolio.Projection, "the portfolio is a projection where history is kept")
			requireSameTrading(t, want, got)
			require.Equal(t, want.Bus.Handled, got.Bus.Handled, "same count of handled events")
			require.Equal(t, want.Bus.Published, got.Bus.Published)
		})
	}
}

// On RabbitMQ the dead letters of a -chaos run stay in the queues of the
// "dlq" reader, "<ns>.dlq.deadletter.<group>", where tradebus-dlq
// (-group <group>, reader dlq by default) lists and replays them.
func TestDeadLettersKeptForTheDLQTool(t *testing.T) {
	raw, ns := brokerURL(t, "amqp")
	cfg := defaultConfig()
	cfg.Ticks, cfg.Chaos, cfg.URL, cfg.Namespace = 60, 3, raw, ns
	sum := run(t, cfg)
	require.EqualValues(t, 3, sum.Bus.DeadLetters)

	conn, err := amqp091.Dial(raw)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	kept := map[string]int{}
	for _, g := range groups {
		q, err := ch.QueueDeclarePassive(ns+"."+deadLetterReader+".deadletter."+g.group, true, false, false, false, nil)
		require.NoError(t, err, g.group)
		kept[g.group] = q.Messages
	}
	total := 0
	for _, n := range kept {
		total += n
	}
	t.Logf("dead letters kept per group: %v", kept)
	require.Equal(t, 3, total)
	require.Positive(t, kept["strategy"], "malformed tickers")
	require.Positive(t, kept["portfolio"], "malformed trades")
}
