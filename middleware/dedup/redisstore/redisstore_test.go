package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/redisstore"
)

// newStore connects to TRADEBUS_TEST_REDIS_URL and returns a store with a
// prefix unique to the test; its keys are deleted at the end.
func newStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	url := os.Getenv("TRADEBUS_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set TRADEBUS_TEST_REDIS_URL to run")
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("redis at TRADEBUS_TEST_REDIS_URL unreachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "tradebus:test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
	s, err := redisstore.New(c, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = c.Close()
	})
	return s, c
}

func TestSeenRecord(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	if seen, err := s.Seen(ctx, "k"); err != nil || seen {
		t.Fatal(seen, err)
	}
	if err := s.Record(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.Seen(ctx, "k"); err != nil || !seen {
		t.Fatal(seen, err)
	}
	pttl := c.PTTL(ctx, s.Prefix()+"k").Val()
	if pttl <= 50*time.Second || pttl > time.Minute {
		t.Fatalf("PTTL %v, want about 1m", pttl)
	}
	// NX: a second record keeps the first one and its expiry.
	if first, err := s.Claim(ctx, "k", time.Hour); err != nil || first {
		t.Fatalf("second claim won: %v %v", first, err)
	}
	if pttl := c.PTTL(ctx, s.Prefix()+"k").Val(); pttl > time.Minute {
		t.Fatalf("expiry extended to %v", pttl)
	}
	// Expiry is the server's.
	if err := s.Record(ctx, "short", 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		seen, err := s.Seen(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClaimRace(t *testing.T) {
	s, _ := newStore(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := s.Claim(context.Background(), "race", time.Minute); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners", wins.Load())
	}
}

// Two "processes" (two Dedup middlewares) share one Redis: a message handled
// by one is a duplicate for the other; a failed one is not recorded.
func TestDedupAcrossProcesses(t *testing.T) {
	s, _ := newStore(t)
	quiet := slog.New(slog.DiscardHandler)
	var calls atomic.Int32
	fail := true
	h := func(*message.Message) ([]*message.Message, error) {
		calls.Add(1)
		if fail {
			return nil, errors.New("flaky")
		}
		return nil, nil
	}
	a, _ := middleware.NewDedup(middleware.WithDedupStore(s), middleware.WithConsumerGroup("g"), middleware.WithLogger(quiet))
	b, _ := middleware.NewDedup(middleware.WithDedupStore(s), middleware.WithConsumerGroup("g"), middleware.WithLogger(quiet))
	msg := func() *message.Message {
		m := message.NewMessage("id-1", nil)
		m.Metadata.Set("id", "id-1")
		return m
	}
	if _, err := a.Middleware(h)(msg()); err == nil {
		t.Fatal("want failure")
	}
	fail = false
	if _, err := b.Middleware(h)(msg()); err != nil { // redelivered to the other process
		t.Fatal(err)
	}
	if _, err := a.Middleware(h)(msg()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || a.Stats().Duplicates != 1 || b.Stats().Processed != 1 {
		t.Fatalf("calls %d a %+v b %+v", calls.Load(), a.Stats(), b.Stats())
	}
}

func TestUnreachableRedisFails(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	s, _ := redisstore.New(c)
	if _, err := s.Seen(context.Background(), "k"); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
	if err := s.Record(context.Background(), "k", time.Second); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
}

func TestInvalidOptions(t *testing.T) {
	if _, err := redisstore.New(nil); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	if _, err := redisstore.New(c, redisstore.WithPrefix("")); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
	if _, err := redisstore.New(c, nil); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
}
