package main

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rebuild suite's raw readers: each broker's own client reading a
// stored history at its best, no tradebus code.

// rawKafkaReader reads every partition of a topic with a kgo client of
// its own consuming the partitions directly (no group, nothing committed)
// from their start offsets up to the high watermarks listed when the read
// starts.
type rawKafkaReader struct {
	brokers []string
	topic   string
	adm     *kadm.Client
}

func openRawKafkaReader(e *env, topic string, cl *closer) (rawReader, error) {
	c, err := kgo.NewClient(kgo.SeedBrokers(e.kafkaBrokers...))
	if err != nil {
		return nil, err
	}
	cl.add(func(context.Context) error { c.Close(); return nil })
	return &rawKafkaReader{brokers: e.kafkaBrokers, topic: topic, adm: kadm.NewClient(c)}, nil
}

func (r *rawKafkaReader) describe() string {
	return "franz-go kgo direct partition consumer, start offsets → high watermarks"
}

func (r *rawKafkaReader) read(ctx context.Context, each func([]byte)) (int, error) {
	ends, err := r.adm.ListEndOffsets(ctx, r.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	starts, err := r.adm.ListStartOffsets(ctx, r.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, err
	}
	from := map[int32]kgo.Offset{}
	until := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(r.topic, o.Partition)
		if s.Offset < o.Offset {
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
			until[o.Partition] = o.Offset
		}
	})
	if len(from) == 0 {
		return 0, nil
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: from}))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n := 0
	for len(until) > 0 {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return n, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := until[rec.Partition]
			if !ok || rec.Offset >= end {
				return
			}
			if rec.Offset == end-1 {
				delete(until, rec.Partition)
			}
			each(rec.Value)
			n++
		})
	}
	return n, nil
}

// rawRedisPage is how many entries one XRANGE of the raw reader asks for.
const rawRedisPage = 1000

// rawRedisReader reads a stream with XRANGE pages up to the last entry as
// it is when the read starts (XREVRANGE + - COUNT 1).
type rawRedisReader struct {
	c      *redis.Client
	stream string
}

func openRawRedisReader(e *env, stream string, cl *closer) (rawReader, error) {
	c, err := newRedisClient(e.redisURL)
	if err != nil {
		return nil, err
	}
	cl.add(func(context.Context) error { return c.Close() })
	return &rawRedisReader{c: c, stream: stream}, nil
}

func (r *rawRedisReader) describe() string {
	return fmt.Sprintf("go-redis XRANGE COUNT %d pages up to the last entry", rawRedisPage)
}

func (r *rawRedisReader) read(ctx context.Context, each func([]byte)) (int, error) {
	last, err := r.c.XRevRangeN(ctx, r.stream, "+", "-", 1).Result()
	if err != nil {
		return 0, err
	}
	if len(last) == 0 {
		return 0, nil
	}
	end := last[0].ID
	from := "-"
	n := 0
	for {
		xms, err := r.c.XRangeN(ctx, r.stream, from, end, rawRedisPage).Result()
		if err != nil {
			return n, err
		}
		for i := range xms {
			s, _ := xms[i].Values["payload"].(string)
			// A view of the string go-redis read (no copy): each only
			// reads it.
			each(unsafe.Slice(unsafe.StringData(s), len(s)))
			n++
		}
		if len(xms) < rawRedisPage {
			return n, nil
		}
		from = "(" + xms[len(xms)-1].ID
	}
}

// rawNATSReader reads a JetStream stream with an ordered consumer (ephemeral,
// AckNone, in memory, flow-controlled) and Consume, until it has had the
// stream's last sequence as it was when the read started.
type rawNATSReader struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream string
}

func openRawNATSReader(e *env, stream string, cl *closer) (rawReader, error) {
	nc, err := natsgo.Connect(e.natsURL)
	if err != nil {
		return nil, err
	}
	cl.add(func(context.Context) error { nc.Close(); return nil })
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &rawNATSReader{nc: nc, js: js, stream: stream}, nil
}

func (r *rawNATSReader) describe() string {
	return "nats.go jetstream ordered consumer (AckNone), Consume to the last seq"
}

func (r *rawNATSReader) read(ctx context.Context, each func([]byte)) (int, error) {
	s, err := r.js.Stream(ctx, r.stream)
	if err != nil {
		return 0, err
	}
	st := s.CachedInfo().State
	want := int(st.Msgs)
	if want == 0 {
		return 0, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	n := 0
	done := make(chan struct{})
	errc := make(chan error, 1)
	// The stream holds the history only: the want-th message is the one
	// of the last sequence (ordered consumers deliver in order, no gap).
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if n >= want {
			return
		}
		each(m.Data())
		n++
		if n == want {
			close(done)
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// The ordered consumer recreates itself after a missed heartbeat
		// or a gap, from the sequence after the last one delivered: only a
		// closed connection ends the read.
		if !errors.Is(err, natsgo.ErrConnectionClosed) {
			return
		}
		select {
		case errc <- err:
		default:
		}
	}))
	if err != nil {
		return 0, err
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()
	select {
	case <-done:
		return want, nil
	case err := <-errc:
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
