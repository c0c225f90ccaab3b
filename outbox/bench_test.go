package outbox_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/outbox"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/mem"
)

// BenchmarkRelayVsPublish measures, in one run, how fast the relay empties
// an outbox of b.N orders into a transport against publisher.Publish
// sending the same orders in calls of 256, and reports the ratio
// (relay/publish). Writing the outbox (the business transactions) is not
// timed. Redis when TRADEBUS_TEST_REDIS_URL is set, else mem.
func BenchmarkRelayVsPublish(b *testing.B) {
	pool := pgPool(b)
	url := "mem://"
	if r := os.Getenv(redisEnv); r != "" {
		sep := "?"
		if strings.Contains(r, "?") {
			sep = "&"
		}
		prefix := "tbbench" + randomHex(4) + ":"
		url = r + sep + "prefix=" + prefix
		defer cleanRedisB(b, r, prefix)
	}
	ctx := context.Background()
	tr, err := transport.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close(ctx)
	pub, err := publisher.New(tr.Publisher())
	if err != nil {
		b.Fatal(err)
	}
	ob := newOutbox(b, pool)
	evs := make([]events.Event, b.N)
	for i := range evs {
		evs[i] = order(crashSymbols[i%16], i)
	}
	const call = 256

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(evs); i += call {
		if err := pub.Publish(ctx, evs[i:min(i+call, len(evs))]...); err != nil {
			b.Fatal(err)
		}
	}
	publishTime := time.Since(start)

	b.StopTimer()
	for i := 0; i < len(evs); i += call {
		tx, err := pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := ob.Publish(ctx, tx, evs[i:min(i+call, len(evs))]...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	r, err := outbox.NewRelay(pool, tr.Publisher(), outbox.WithOutbox(outbox.WithTable(ob.Table())), outbox.WithRelayLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	start = time.Now()
	go func() { done <- r.Run(rctx) }()
	for r.Sent() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	relayTime := time.Since(start)
	b.StopTimer()
	cancel()
	<-done

	fwdTime := forwarderTime(b, pool, tr, evs)

	b.ReportMetric(float64(b.N)/publishTime.Seconds(), "publish-ev/s")
	b.ReportMetric(float64(b.N)/relayTime.Seconds(), "relay-ev/s")
	b.ReportMetric(float64(b.N)/fwdTime.Seconds(), "wmsql-fwd-ev/s")
	b.ReportMetric(publishTime.Seconds()/relayTime.Seconds(), "relay/publish")
	b.ReportMetric(fwdTime.Seconds()/relayTime.Seconds(), "relay/wmsql-fwd")
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{ob.Table()}.Sanitize()).Scan(&n); err != nil || n != 0 {
		b.Fatalf("outbox holds %d after the relay (%v)", n, err)
	}
}

// forwarderTime measures the alternative the issue names: Watermill's
// forwarder over watermill-sql (PostgreSQL schema, pgx), writing the same
// events in transactions of 256 (not timed) and timing how long the
// forwarder takes to move them all to the transport.
func forwarderTime(b *testing.B, pool *pgxpool.Pool, tr transport.Transport, evs []events.Event) time.Duration {
	b.Helper()
	ctx := context.Background()
	topic := "tb_fwd_" + randomHex(4)
	logger := watermill.NopLogger{}
	defer func() {
		for _, t := range []string{"watermill_" + topic, "watermill_offsets_" + topic} {
			if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{t}.Sanitize()); err != nil {
				b.Errorf("drop %s: %v", t, err)
			}
		}
	}()
	sub, err := wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), wmsql.SubscriberConfig{
		ConsumerGroup: "relay", SchemaAdapter: wmsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wmsql.DefaultPostgreSQLOffsetsAdapter{}, InitializeSchema: true,
	}, logger)
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.SubscribeInitialize(topic); err != nil {
		b.Fatal(err)
	}
	enc, err := publisher.New(tr.Publisher())
	if err != nil {
		b.Fatal(err)
	}
	const call = 256
	for i := 0; i < len(evs); i += call {
		tx, err := pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		wpub, err := wmsql.NewPublisher(wmsql.TxFromPgx(tx), wmsql.PublisherConfig{SchemaAdapter: wmsql.DefaultPostgreSQLSchema{}}, logger)
		if err != nil {
			b.Fatal(err)
		}
		fpub := forwarder.NewPublisher(wpub, forwarder.PublisherConfig{ForwarderTopic: topic})
		for _, ev := range evs[i:min(i+call, len(evs))] {
			msg, err := enc.NewMessage(ctx, ev)
			if err != nil {
				b.Fatal(err)
			}
			if err := fpub.Publish(ev.RoutingKey(), msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	counted := &countingPublisher{Publisher: tr.Publisher()}
	fwd, err := forwarder.NewForwarder(sub, counted, logger, forwarder.Config{ForwarderTopic: topic})
	if err != nil {
		b.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- fwd.Run(fctx) }()
	for counted.n.Load() < int64(len(evs)) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	_ = fwd.Close()
	<-done
	return elapsed
}

type countingPublisher struct {
	message.Publisher
	n atomic.Int64
}

func (c *countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	err := c.Publisher.Publish(topic, msgs...)
	if err == nil {
		c.n.Add(int64(len(msgs)))
	}
	return err
}
