package redisstream_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

// runPrefix starts every key this test binary creates, so that TestMain
// can remove what a per-test cleanup missed: streams that a reader still
// running after its test's cleanup recreated (XGROUP CREATE MKSTREAM
// after NOGROUP), e.g. in Watermill's universal suite.
var runPrefix = "tbtest:" + brokertest.RandomSuffix() + ":"

func TestMain(m *testing.M) {
	code := m.Run()
	if err := sweep(); err != nil {
		fmt.Fprintln(os.Stderr, "redisstream tests: cleanup:", err)
		code = 1
	}
	if code == 0 {
		find := func() error {
			return goleak.Find(
				// Watermill's suite multiplier forwards messages to a channel the
				// test stops reading: that goroutine, and the one waiting for it to
				// close the channel, block forever by design of the suite.
				goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func2"),
				goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func3"),
			)
		}
		// go-redis probes a failing address from a goroutine that sleeps
		// 1 s between dials and sees its pool closed only when it wakes
		// (internal/pool tryDial): look again for up to 5 s.
		err := find()
		for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			err = find()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sweep deletes every key under runPrefix (nothing without the broker env).
func sweep() error {
	raw := os.Getenv(envRedisURL)
	if raw == "" {
		return nil
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	iter := c.Scan(ctx, 0, runPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return c.Del(ctx, keys...).Err()
}
