package rpc_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/rpc"
)

// BenchmarkRoundTrip measures request-reply round trips, one call in
// flight, on every transport: the typed path (rpc.Call against an
// rpc.Handler behind middleware.Default) and, in the same run, the raw
// client's own request-reply on the same broker (NATS core Request,
// RabbitMQ direct reply-to, Redis XADD + XREAD BLOCK). Both sides decode
// the request and encode the reply with the tradebus codec. It reports
// p50/p99 in µs, calls/s, and the ratios typed/raw.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			bs, raw := openBus(b, tc.name, tc.env)
			startServer(b, bs, accept)
			c := newClient(b, bs)
			ctx := context.Background()
			o := order("BTCUSDT", 1, "1")
			// Warm up: subscriptions, connections, JIT of the broker.
			for range 20 {
				if _, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", o); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			typed := measure(b, b.N, func() error {
				_, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", o)
				return err
			})
			b.StopTimer()
			typed.report(b, "typed")
			call := rawCaller(b, tc.name, raw)
			if call == nil {
				return
			}
			for range 20 {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			base := measure(b, b.N, call)
			b.StopTimer()
			base.report(b, "raw")
			b.ReportMetric(typed.rate/base.rate, "typed/raw-calls")
			b.ReportMetric(float64(typed.p99)/float64(base.p99), "typed/raw-p99")
		})
	}
}

type stats struct {
	p50, p99 time.Duration
	rate     float64
}

func (s stats) report(b *testing.B, name string) {
	b.ReportMetric(float64(s.p50.Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(s.p99.Microseconds()), name+"-p99-µs")
	b.ReportMetric(s.rate, name+"-calls/s")
}

func measure(b *testing.B, n int, call func() error) stats {
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t)
	}
	total := time.Since(start)
	slices.Sort(lat)
	return stats{p50: lat[n/2], p99: lat[min(n-1, n*99/100)], rate: float64(n) / total.Seconds()}
}

// serve is the raw server's work: decode the order, answer it.
func serve(req []byte) ([]byte, error) {
	o, err := events.Unmarshal[events.Order](req)
	if err != nil {
		return nil, err
	}
	rep, err := accept(context.Background(), o)
	if err != nil {
		return nil, err
	}
	return events.Marshal(rep)
}

func decodeReport(p []byte) error {
	_, err := events.Unmarshal[events.ExecutionReport](p)
	return err
}

// rawCaller sets up the raw client's request-reply on the broker at raw and
// returns one round trip, or nil where there is no raw baseline (mem;
// Kafka has no request-reply of its own).
func rawCaller(b *testing.B, name, raw string) func() error {
	req, err := events.Marshal(order("BTCUSDT", 1, "1"))
	if err != nil {
		b.Fatal(err)
	}
	suffix := fmt.Sprintf("tbrpc%d", time.Now().UnixNano())
	switch name {
	case "nats":
		nc, err := nats.Connect(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		subj := suffix + ".risk"
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			if rep, err := serve(m.Data); err == nil {
				_ = m.Respond(rep)
			}
		}); err != nil {
			b.Fatal(err)
		}
		return func() error {
			m, err := nc.Request(subj, req, time.Minute)
			if err != nil {
				return err
			}
			return decodeReport(m.Data)
		}
	case "amqp":
		srvConn, err := amqp.Dial(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srvConn.Close() })
		cliConn, err := amqp.Dial(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cliConn.Close() })
		sch, err := srvConn.Channel()
		if err != nil {
			b.Fatal(err)
		}
		q, err := sch.QueueDeclare("", false, true, true, false, nil) // exclusive, gone with the connection
		if err != nil {
			b.Fatal(err)
		}
		reqs, err := sch.Consume(q.Name, "", true, true, false, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for d := range reqs {
				if rep, err := serve(d.Body); err == nil {
					_ = sch.Publish("", d.ReplyTo, false, false, amqp.Publishing{CorrelationId: d.CorrelationId, Body: rep})
				}
			}
		}()
		cch, err := cliConn.Channel()
		if err != nil {
			b.Fatal(err)
		}
		replies, err := cch.Consume("amq.rabbitmq.reply-to", "", true, true, false, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		return func() error {
			n++
			id := fmt.Sprint(n)
			if err := cch.Publish("", q.Name, false, false, amqp.Publishing{ReplyTo: "amq.rabbitmq.reply-to", CorrelationId: id, Body: req}); err != nil {
				return err
			}
			for d := range replies {
				if d.CorrelationId == id {
					return decodeReport(d.Body)
				}
			}
			return fmt.Errorf("reply channel closed")
		}
	case "redis":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			b.Fatal(err)
		}
		srv, cli := redis.NewClient(opts), redis.NewClient(opts)
		reqStream, repStream := suffix+":req", suffix+":rep"
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			last := "0" // the stream is new: read it from the start
			for ctx.Err() == nil {
				res, err := srv.XRead(ctx, &redis.XReadArgs{Streams: []string{reqStream, last}, Block: time.Second, Count: 64}).Result()
				if err != nil {
					continue
				}
				for _, m := range res[0].Messages {
					last = m.ID
					rep, err := serve([]byte(m.Values["p"].(string)))
					if err == nil {
						srv.XAdd(ctx, &redis.XAddArgs{Stream: repStream, Values: []any{"p", rep, "id", m.Values["id"]}})
					}
				}
			}
		}()
		b.Cleanup(func() {
			cancel()
			<-done
			cli.Del(context.Background(), reqStream, repStream)
			_ = srv.Close()
			_ = cli.Close()
		})
		lastRep := "0"
		n := 0
		return func() error {
			n++
			id := fmt.Sprint(n)
			if err := cli.XAdd(context.Background(), &redis.XAddArgs{Stream: reqStream, Values: []any{"p", req, "id", id}}).Err(); err != nil {
				return err
			}
			for {
				res, err := cli.XRead(context.Background(), &redis.XReadArgs{Streams: []string{repStream, lastRep}, Block: time.Minute, Count: 1}).Result()
				if err != nil {
					return err
				}
				m := res[0].Messages[0]
				lastRep = m.ID
				if m.Values["id"] == id {
					return decodeReport([]byte(m.Values["p"].(string)))
				}
			}
		}
	}
	return nil
}
