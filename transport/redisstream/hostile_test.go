package redisstream_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/hostile"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// TestHostileLargeBook (issue 10): Redis has no small limit — every string
// of a command (the payload, each metadata value) may be
// proto-max-bulk-len bytes, 512 MiB by default, which is what
// Capabilities.MaxMessageBytes states (for payload and metadata together).
// A 4 MB book with a 1 MB header, written with XADD by an outside
// producer and rejected by the handler with an error of 8 KB, is
// dead-lettered whole: body and header intact, the reason cut to 1 KiB;
// the next book of the symbol is handled, unrelated publishes never fail,
// and Replay puts the book back whole.
func TestHostileLargeBook(t *testing.T) {
	claims := hostile.Claims(t)
	c := newClient(t)
	tr := newTransport(t, c, redisstream.WithPrefix(uniquePrefix(t, c)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, err := c.ConfigGet(ctx, "proto-max-bulk-len").Result()
	if err != nil {
		t.Fatal(err)
	}
	if bulk, _ := strconv.Atoi(kv["proto-max-bulk-len"]); tr.Capabilities().MaxMessageBytes != redisstream.DefaultMaxBulkBytes || bulk != redisstream.DefaultMaxBulkBytes {
		t.Fatalf("MaxMessageBytes %d, server proto-max-bulk-len %d, want both %d", tr.Capabilities().MaxMessageBytes, bulk, redisstream.DefaultMaxBulkBytes)
	}
	book := hostile.Book(t, "BTCUSDT", 1, 4<<20)
	book.Metadata.Set("x-hostile", strings.Repeat("h", 1<<20))
	inject := func(t testing.TB, m *message.Message) {
		t.Helper()
		key := m.Metadata.Get(events.MetaRoutingKey)
		vals := []any{"routingkey", key, "payload", []byte(m.Payload)}
		for k, v := range m.Metadata {
			vals = append(vals, "meta:"+k, v)
		}
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: driverOf(t, tr).Stream(key), Values: vals}).Err(); err != nil {
			t.Fatalf("raw XADD of %d bytes: %v", len(m.Payload), err)
		}
	}
	hostile.Run(t, hostile.Scenario{Transport: tr, Claims: claims, Message: book, Inject: inject})
}
