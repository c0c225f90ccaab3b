package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The library's promise: switching brokers is a URL, not a rewrite. The
// same seed must give the same final portfolio and the same count of
// handled events on every transport.

// groupPatterns are the (consumer group, pattern) pairs the example
// subscribes, i.e. the queues it declares on RabbitMQ.
var groupPatterns = [][2]string{
	{"strategy", "ticker.#"}, {"executor", "signal.#"}, {"venue", "order.*.*"},
	{"portfolio", "exec.#"}, {"portfolio", "trade.*.*"}, {"risk", "position.#"},
}

func uniqueName(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "tbex" + hex.EncodeToString(b)
}

func withParam(raw, key, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + key + "=" + url.QueryEscape(value)
}

// brokerURL returns the URL of a transport under test with a namespace of
// its own, registering the removal of everything the run creates.
func brokerURL(t *testing.T, scheme string) string {
	t.Helper()
	ns := uniqueName(t)
	switch scheme {
	case "amqp":
		raw := os.Getenv("TRADEBUS_TEST_AMQP_URL")
		if raw == "" {
			t.Skip("set TRADEBUS_TEST_AMQP_URL to run (e.g. amqp://guest:guest@127.0.0.1:5672/)")
		}
		t.Cleanup(func() {
			conn, err := amqp091.Dial(raw)
			require.NoError(t, err)
			defer conn.Close()
			ch, err := conn.Channel()
			require.NoError(t, err)
			defer ch.Close()
			for _, gp := range groupPatterns {
				_, err := ch.QueueDelete(ns+"."+gp[0]+"."+gp[1], false, false, false)
				require.NoError(t, err)
			}
			require.NoError(t, ch.ExchangeDelete(ns, false, false))
		})
		return withParam(raw, "exchange", ns)
	case "redis":
		raw := os.Getenv("TRADEBUS_TEST_REDIS_URL")
		if raw == "" {
			t.Skip("set TRADEBUS_TEST_REDIS_URL to run (e.g. redis://127.0.0.1:6379/0)")
		}
		prefix := ns + ":"
		t.Cleanup(func() {
			opt, err := redis.ParseURL(raw)
			require.NoError(t, err)
			c := redis.NewClient(opt)
			defer c.Close()
			ctx := context.Background()
			keys, err := c.Keys(ctx, prefix+"*").Result()
			require.NoError(t, err)
			if len(keys) > 0 {
				require.NoError(t, c.Del(ctx, keys...).Err())
			}
		})
		return withParam(raw, "prefix", prefix)
	case "nats":
		raw := os.Getenv("TRADEBUS_TEST_NATS_URL")
		if raw == "" {
			t.Skip("set TRADEBUS_TEST_NATS_URL to run (e.g. nats://127.0.0.1:4222)")
		}
		t.Cleanup(func() {
			nc, err := natsgo.Connect(raw)
			require.NoError(t, err)
			defer nc.Close()
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			ctx := context.Background()
			names := js.StreamNames(ctx)
			var del []string
			for n := range names.Name() {
				if strings.HasPrefix(n, ns+"_") {
					del = append(del, n)
				}
			}
			require.NoError(t, names.Err())
			for _, n := range del {
				require.NoError(t, js.DeleteStream(ctx, n))
			}
		})
		return withParam(raw, "prefix", ns)
	case "kafka":
		brokers := os.Getenv("TRADEBUS_TEST_KAFKA_BROKERS")
		if brokers == "" {
			return "kafka://" // embedded cluster, gone with the run
		}
		prefix := ns + "."
		t.Cleanup(func() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
			require.NoError(t, err)
			defer cl.Close()
			adm := kadm.NewClient(cl)
			ctx := context.Background()
			topics, err := adm.ListTopics(ctx)
			require.NoError(t, err)
			var del []string
			for _, name := range topics.Names() {
				if strings.HasPrefix(name, prefix) {
					del = append(del, name)
				}
			}
			if len(del) > 0 {
				_, err = adm.DeleteTopics(ctx, del...)
				require.NoError(t, err)
			}
		})
		return withParam("kafka://"+brokers, "prefix", prefix)
	}
	t.Fatalf("unknown scheme %s", scheme)
	return ""
}

func TestSameResultOnEveryTransport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := defaultConfig()
	cfg.Seed, cfg.Ticks = 2026, 60
	want, err := Run(ctx, cfg)
	require.NoError(t, err)
	require.Positive(t, want.Handled["exec"], "the run produced fills")

	for _, scheme := range []string{"amqp", "kafka", "redis", "nats"} {
		t.Run(scheme, func(t *testing.T) {
			c := cfg
			c.Broker = brokerURL(t, scheme)
			got, err := Run(ctx, c)
			require.NoError(t, err)
			require.Equal(t, scheme, got.Transport)
			require.Equal(t, want.Lines, got.Lines, "same final portfolio")
			require.Equal(t, want.Handled, got.Handled, "same count of handled events")
			require.Equal(t, want.Published, got.Published)
			require.Equal(t, want.Realized, got.Realized)
			require.Equal(t, want.Unrealized, got.Unrealized)
		})
	}
}
