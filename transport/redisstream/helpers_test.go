package redisstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

const envRedisURL = "TRADEBUS_TEST_REDIS_URL"

// newClient returns a client of the test Redis, closed at cleanup. An
// unreachable Redis fails the test.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(brokertest.URL(t, envRedisURL))
	if err != nil {
		t.Fatalf("parse %s: %v", envRedisURL, err)
	}
	// Every subscription holds a connection during its blocking read, and
	// the suite runs 50 subscribers on this one client.
	opts.PoolSize = 256
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v", envRedisURL, err)
	}
	return c
}

// uniquePrefix returns a stream prefix for this test and deletes every key
// under it at cleanup.
func uniquePrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	p := runPrefix + brokertest.RandomSuffix() + ":"
	t.Cleanup(func() { deleteKeys(t, c, p) })
	return p
}

func deleteKeys(t testing.TB, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete %d keys under %s: %v", len(keys), prefix, err)
		}
	}
}

// newTransport returns a Transport on a driver on c, closed at cleanup,
// with a close timeout of 5s (a subscription whose ctx ends waits that
// long for messages still out) unless topts say otherwise.
func newTransport(t testing.TB, c *redis.Client, opts ...redisstream.Option) *transport.Portable {
	t.Helper()
	return newTransportWith(t, c, nil, opts...)
}

// newTransportWith is newTransport with options of the core.
func newTransportWith(t testing.TB, c *redis.Client, topts []transport.Option, opts ...redisstream.Option) *transport.Portable {
	t.Helper()
	d, err := redisstream.NewDriver(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(d, append([]transport.Option{transport.WithCloseTimeout(5 * time.Second)}, topts...)...)
	if err != nil {
		t.Fatal(err)
	}
	brokertest.CloseAtCleanup(t, tr)
	return tr
}

// driverOf returns the Redis driver under tr.
func driverOf(t testing.TB, tr *transport.Portable) *redisstream.Driver {
	t.Helper()
	d, ok := tr.Driver().(*redisstream.Driver)
	if !ok {
		t.Fatalf("driver %T, want *redisstream.Driver", tr.Driver())
	}
	return d
}
