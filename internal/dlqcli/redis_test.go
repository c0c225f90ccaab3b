package dlqcli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/redisstream"
)

// TestListKeepsRedisStream is issue 10 item 4 as reported: 9 dead letters
// on Redis; `list` twice shows 9 of 9 both times and appends nothing
// (XLEN unchanged, no pending entry); `replay -limit 3` then replays 3, and
// `list` shows the other 6 — each command a process of its own (its own
// transport and consumer name), as on the command line.
func TestListKeepsRedisStream(t *testing.T) {
	raw := os.Getenv("TRADEBUS_TEST_REDIS_URL")
	if raw == "" {
		t.Skip("set TRADEBUS_TEST_REDIS_URL to run")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() }) // after the keys' cleanup below
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis unreachable: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tbtest:dlqcli" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		keys, err := c.Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if len(keys) > 0 {
			if err := c.Del(context.Background(), keys...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	url := raw + sep(raw) + "prefix=" + prefix
	const topic = "deadletter.risk"
	if code, out, errOut := cli(nil, "init", "-url", url, "-topic", topic); code != 0 {
		t.Fatalf("init: %q %q", out, errOut)
	}

	tr, err := transport.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("risk"), middleware.WithLogger(quiet))
	for i := range 9 {
		m := message.NewMessage("dl-"+strconv.Itoa(i), []byte(`{}`))
		m.Metadata.Set(events.MetaRoutingKey, "trade.binance.S"+strconv.Itoa(i))
		if _, err := p.Middleware(func(*message.Message) ([]*message.Message, error) {
			return nil, middleware.Permanent(errors.New("rejected"))
		})(m); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := tr.Close(cctx); err != nil {
		t.Fatal(err)
	}

	stream := prefix + "deadletter"
	xlen := func() int64 {
		n, err := c.XLen(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pending := func() int64 {
		p, err := c.XPending(ctx, stream, "dlq:"+topic).Result()
		if err != nil {
			t.Fatal(err)
		}
		return p.Count
	}
	if n := xlen(); n != 9 {
		t.Fatalf("XLEN %d, want 9", n)
	}
	for i := range 2 {
		code, out, errOut := cli(nil, "list", "-url", url, "-topic", topic)
		if code != 0 || !strings.Contains(out, "9 matching of 9 dead letters") {
			t.Fatalf("list %d: %d %q %q", i+1, code, out, errOut)
		}
		if n, p := xlen(), pending(); n != 9 || p != 0 {
			t.Fatalf("after list %d: XLEN %d, %d pending; want 9 and 0", i+1, n, p)
		}
	}
	if code, out, errOut := cli(nil, "replay", "-url", url, "-topic", topic, "-idle", "1h", "-limit", "3"); code != 0 || !strings.Contains(out, "replayed 3") {
		t.Fatalf("replay: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := cli(nil, "list", "-url", url, "-topic", topic); code != 0 || !strings.Contains(out, "6 matching of 6 dead letters") {
		t.Fatalf("list after replay: %d %q %q", code, out, errOut)
	}
}

func sep(raw string) string {
	if strings.Contains(raw, "?") {
		return "&"
	}
	return "?"
}
