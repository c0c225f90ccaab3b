package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// The CLI against the real brokers: ping, publish, a tail that sees the
// event and leaves no consumer group behind.
func TestOnEveryBroker(t *testing.T) {
	for _, tc := range []struct{ name, env string }{
		{"amqp", "TRADEBUS_TEST_AMQP_URL"}, {"kafka", "TRADEBUS_TEST_KAFKA_BROKERS"},
		{"redis", "TRADEBUS_TEST_REDIS_URL"}, {"nats", "TRADEBUS_TEST_NATS_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, embedded := os.Getenv(tc.env), false
			switch {
			case tc.name == "kafka" && raw == "":
				raw, embedded = kafkatest.NewCluster(t).URL(), true
			case tc.name == "kafka":
				raw = "kafka://" + raw
			case raw == "":
				t.Skipf("set %s to run on %s", tc.env, tc.name)
			}
			url := raw
			ns := brokerns.Unique()
			if !embedded {
				var err error
				if url, err = brokerns.Apply(raw, ns); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := brokerns.Remove(ctx, raw, ns, nil); err != nil {
						t.Errorf("clean up: %v", err)
					}
				})
			}
			ctx := context.Background()
			if r := cli(ctx, "", "ping", "-url", url); r.code != exitOK {
				t.Fatalf("ping: %+v", r)
			}
			wait := startTail(t, ctx, "-url", url, "-n", "1", "trade.*.BTCUSDT")
			if r := cli(ctx, tradeJSON, "publish", "-url", url, "-type", events.TypeTrade, "-file", "-"); r.code != exitOK {
				t.Fatalf("publish: %+v", r)
			}
			r := wait()
			if r.code != exitOK || !regexp.MustCompile(`trade\.binance\.BTCUSDT  tradebus\.trade\.v1`).MatchString(r.stdout) {
				t.Fatalf("tail: %+v", r)
			}
			group := regexp.MustCompile(`as group "([^"]+)"`).FindStringSubmatch(r.stderr)
			if group == nil {
				t.Fatalf("tail did not name its group: %q", r.stderr)
			}
			tr, err := transport.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close(ctx)
			if _, err := transport.Lag(ctx, tr, group[1], "trade.*.BTCUSDT"); tc.name != "kafka" && !errors.Is(err, transport.ErrGroupNotFound) {
				t.Fatalf("the tail's group %s after it ended: %v, want ErrGroupNotFound", group[1], err)
			}
		})
	}
}
