package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wredis "github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/internal/brokerns"
)

func newRedisClient(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// removeRedis deletes the keys under ns (streams, with their groups).
func removeRedis(ctx context.Context, e *env, ns string) error {
	return brokerns.Remove(ctx, e.redisURL, ns, nil)
}

// rawRedisRow is go-redis at its best from one goroutine: XADD pipelined
// 256 per round trip, and a consumer reading XREADGROUP COUNT 256 and
// acknowledging each batch with one XACK. Entries carry the same fields as
// the tradebus transport's (uuid, routingkey, payload, meta:*).
type rawRedisRow struct {
	e      *env
	c      *redis.Client
	stream string
	group  string
	values [][]any
	seqs   *redisSeqSender // latency phase, started by the first publishSeq
	cl     closer
}

func openRawRedis(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &rawRedisRow{e: e, stream: ns + ":trade", group: "g"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return removeRedis(ctx, e, ns) })
	if r.c, err = newRedisClient(e.redisURL); err != nil {
		return nil, err
	}
	r.cl.add(func(context.Context) error { return r.c.Close() })
	if err := r.c.XGroupCreateMkStream(ctx, r.stream, r.group, "0").Err(); err != nil {
		return nil, err
	}
	for k, md := range e.fx.metadata {
		vals := []any{"uuid", md["id"], "routingkey", e.fx.keys[k], "payload", e.fx.payloads[k]}
		for mk, mv := range md {
			vals = append(vals, "meta:"+mk, mv)
		}
		r.values = append(r.values, vals)
	}
	return r, nil
}

func (r *rawRedisRow) publishN(ctx context.Context, n int) error {
	for sent := 0; sent < n; {
		k := min(batchSize, n-sent)
		pipe := r.c.Pipeline()
		for i := range k {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: r.stream, Values: r.values[(sent+i)%len(r.values)]})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		sent += k
	}
	return nil
}

// publishSeq queues one entry for the senders and returns, as the other
// raw rows keep confirms in flight (AMQP, JetStream, kgo): the latency
// phase is open loop. A publisher that waited for each XADD would not even
// send the events due while Redis (or this process) stalled until the
// stall ended, stamping them late, so the stall would show in one event's
// latency instead of in all of theirs.
func (r *rawRedisRow) publishSeq(ctx context.Context, seq int) error {
	if r.seqs == nil {
		r.seqs = newRedisSeqSender(r)
		r.cl.add(func(context.Context) error { return r.seqs.close() })
	}
	return r.seqs.publish(ctx, seq)
}

func (r *rawRedisRow) flush(ctx context.Context) error {
	if r.seqs == nil {
		return nil
	}
	return r.seqs.flush(ctx)
}

// seqValues returns the XADD field/value list of the latency phase's
// entry seq.
func (r *rawRedisRow) seqValues(seq int) []any {
	src := r.values[seq%len(r.values)]
	return append(append(make([]any, 0, len(src)+2), src...), seqHeader, seqString(seq))
}

// redisSeqSenders is how many goroutines send the latency phase's entries
// (publisher.DefaultSenders): an entry waits for another's round trip only
// when every sender has one in flight.
const redisSeqSenders = 16

// redisSeqSender sends queued entries from redisSeqSenders goroutines,
// each taking what is queued (up to batchSize) as one pipeline.
type redisSeqSender struct {
	r       *rawRedisRow
	queue   chan int
	pending sync.WaitGroup // queued or in flight
	wg      sync.WaitGroup // the senders
	err     atomic.Pointer[error]
}

func newRedisSeqSender(r *rawRedisRow) *redisSeqSender {
	s := &redisSeqSender{r: r, queue: make(chan int, 4096)}
	for range redisSeqSenders {
		s.wg.Add(1)
		go s.send()
	}
	return s
}

func (s *redisSeqSender) publish(ctx context.Context, seq int) error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	s.pending.Add(1)
	select {
	case s.queue <- seq:
		return nil
	case <-ctx.Done():
		s.pending.Done()
		return ctx.Err()
	}
}

func (s *redisSeqSender) send() {
	defer s.wg.Done()
	ctx := context.Background()
	batch := make([]int, 0, batchSize)
	for seq := range s.queue {
		batch = append(batch[:0], seq)
	more:
		for len(batch) < batchSize {
			select {
			case seq, ok := <-s.queue:
				if !ok {
					break more
				}
				batch = append(batch, seq)
			default:
				break more
			}
		}
		var err error
		if len(batch) == 1 {
			err = s.r.c.XAdd(ctx, &redis.XAddArgs{Stream: s.r.stream, Values: s.r.seqValues(batch[0])}).Err()
		} else {
			pipe := s.r.c.Pipeline()
			for _, seq := range batch {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.r.stream, Values: s.r.seqValues(seq)})
			}
			_, err = pipe.Exec(ctx)
		}
		if err != nil {
			s.err.CompareAndSwap(nil, &err)
		}
		s.pending.Add(-len(batch))
	}
}

// flush waits until every queued entry was sent.
func (s *redisSeqSender) flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *redisSeqSender) close() error {
	close(s.queue)
	s.wg.Wait()
	return nil
}

func (r *rawRedisRow) start(ctx context.Context, h *hook) error {
	c, err := newRedisClient(r.e.redisURL)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		ids := make([]string, 0, batchSize)
		for pctx.Err() == nil {
			res, err := c.XReadGroup(pctx, &redis.XReadGroupArgs{
				Group: r.group, Consumer: "c1", Streams: []string{r.stream, ">"},
				Count: batchSize, Block: 100 * time.Millisecond,
			}).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				if pctx.Err() == nil {
					h.fail(err)
				}
				return
			}
			ids = ids[:0]
			for _, s := range res {
				for _, m := range s.Messages {
					seq := -1
					if h.wantSeq() {
						if v, ok := m.Values[seqHeader].(string); ok {
							seq = parseSeq(v)
						}
					}
					h.hit(seq)
					ids = append(ids, m.ID)
				}
			}
			if len(ids) > 0 {
				if err := c.XAck(pctx, r.stream, r.group, ids...).Err(); err != nil {
					if pctx.Err() == nil {
						h.fail(err)
					}
					return
				}
			}
		}
	}()
	r.cl.add(func(context.Context) error {
		cancel()
		<-done
		return c.Close()
	})
	return nil
}

func (r *rawRedisRow) close(ctx context.Context) error { return r.cl.close(ctx) }

// openAdapterRedis opens watermill-redisstream: its publisher (one XADD per
// message) and its consumer-group subscriber under a router.
func openAdapterRedis(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &adapterRow{e: e, topic: ns + ":wm"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return removeRedis(ctx, e, ns) })
	c, err := newRedisClient(e.redisURL)
	if err != nil {
		return nil, err
	}
	// The adapter's publisher and subscriber each close the client they
	// were given: whichever comes second finds it closed.
	r.cl.add(func(context.Context) error { return ignoreRedisClosed(c.Close()) })
	pub, err := wredis.NewPublisher(wredis.PublisherConfig{Client: c}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.pub = pub
	r.cl.add(func(context.Context) error { return ignoreRedisClosed(pub.Close()) })
	// OldestId "0" (the default): the new group reads the backlog.
	sub, err := wredis.NewSubscriber(wredis.SubscriberConfig{Client: c, ConsumerGroup: "wg"}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.sub = sub
	r.cl.add(func(context.Context) error { return ignoreRedisClosed(sub.Close()) })
	return r, nil
}
func ignoreRedisClosed(err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}
