package brokerns_test

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/internal/brokerns"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestApply(t *testing.T) {
	for raw, want := range map[string]map[string]string{
		"amqp://guest:guest@h:5672/?prefetch=10": {"exchange": "ns1", "prefetch": "10"},
		"redis://h:6379/0":                       {"prefix": "ns1:"},
		"nats://h:4222":                          {"prefix": "ns1"},
		"kafka://a:1,b:2":                        {"prefix": "ns1."},
	} {
		got, err := brokerns.Apply(raw, "ns1")
		require.NoError(t, err)
		u, err := url.Parse(got)
		require.NoError(t, err)
		for k, v := range want {
			require.Equal(t, v, u.Query().Get(k), raw)
		}
	}
	got, err := brokerns.Apply("mem://", "ns1")
	require.NoError(t, err)
	require.Equal(t, "mem://", got)
	_, err = brokerns.Apply("zmq://h", "ns1")
	require.Error(t, err)
	require.Regexp(t, `^tbns[0-9a-f]{8}$`, brokerns.Unique())
}

func TestRemoveRedis(t *testing.T) {
	raw := os.Getenv("TRADEBUS_TEST_REDIS_URL")
	if raw == "" {
		t.Skip("set TRADEBUS_TEST_REDIS_URL to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns := brokerns.Unique()
	opt, err := redis.ParseURL(raw)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	defer c.Close()
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: ns + ":trade", Values: []string{"a", "b"}}).Err())
	require.NoError(t, c.Set(ctx, ns+"x:other", 1, time.Minute).Err(), "a key outside the namespace")
	defer c.Del(context.Background(), ns+"x:other")
	require.NoError(t, brokerns.Remove(ctx, raw, ns, nil))
	n, err := c.Exists(ctx, ns+":trade").Result()
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = c.Exists(ctx, ns+"x:other").Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "only the namespace is removed")
}

func TestRemoveAMQP(t *testing.T) {
	raw := os.Getenv("TRADEBUS_TEST_AMQP_URL")
	if raw == "" {
		t.Skip("set TRADEBUS_TEST_AMQP_URL to run")
	}
	ns := brokerns.Unique()
	conn, err := amqp091.Dial(raw)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(ns, "topic", true, false, false, false, nil))
	q := ns + ".g.trade.#"
	_, err = ch.QueueDeclare(q, true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.Close())

	require.NoError(t, brokerns.Remove(context.Background(), raw, ns, []brokerns.Subscription{{Group: "g", Pattern: "trade.#"}}))
	ch, err = conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclarePassive(q, true, false, false, false, nil)
	require.Error(t, err, "queue removed")
}
