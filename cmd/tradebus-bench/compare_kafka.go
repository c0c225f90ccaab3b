package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
)

// kafkaPartitions matches the tradebus Kafka transport's default.
const kafkaPartitions = 16

const rawKafkaFetchMax = 256 << 10

// createKafkaTopic creates topic with kafkaPartitions partitions.
func createKafkaTopic(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopic(ctx, kafkaPartitions, -1, nil, topic)
	if err != nil {
		return err
	}
	return res.Err
}

// rawKafkaRow is franz-go at its best from one goroutine: async Produce
// with promises (default linger, acks=all, idempotent), and a group
// consumer (PollFetches) committing marked records (AutoCommitMarks),
// with kgo's default fetch size or rawKafkaFetchMax (fetchMax): the
// ratios are taken against the better of the two.
//
// rawKafkaFetchMax is the fetch bound at which the raw consumer did best
// on kfake (256 KiB, also the driver's default: 0.5–0.7M/s against
// 0.3–0.6M/s at kgo's 50 MB and 0.4M/s at 1 MiB in the same runs; its
// first fetch is decoded sooner).
type rawKafkaRow struct {
	e        *env
	fetchMax int32 // kgo.FetchMaxBytes of the consumer; 0: kgo's default
	topic    string
	group    string
	prod     *kgo.Client
	headers  [][]kgo.RecordHeader
	perr     atomic.Pointer[error]
	cl       closer
}

func openRawKafka(fetchMax int32) func(ctx context.Context, e *env, ns string) (row, error) {
	return func(ctx context.Context, e *env, ns string) (row, error) {
		return openRawKafkaFetch(ctx, e, ns, fetchMax)
	}
}

func openRawKafkaFetch(ctx context.Context, e *env, ns string, fetchMax int32) (_ row, err error) {
	r := &rawKafkaRow{e: e, fetchMax: fetchMax, topic: ns + ".trade", group: ns + ".g"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return e.deleteKafka(ctx, ns) })
	if err := createKafkaTopic(ctx, e.kafkaBrokers, r.topic); err != nil {
		return nil, err
	}
	if r.prod, err = kgo.NewClient(kgo.SeedBrokers(e.kafkaBrokers...)); err != nil {
		return nil, err
	}
	r.cl.add(func(context.Context) error { r.prod.Close(); return nil })
	for _, md := range e.fx.metadata {
		r.headers = append(r.headers, kafkaHeaders(md))
	}
	return r, nil
}

func kafkaHeaders(md message.Metadata) []kgo.RecordHeader {
	hs := make([]kgo.RecordHeader, 0, len(md)+1)
	for k, v := range md {
		hs = append(hs, kgo.RecordHeader{Key: "ce_" + k, Value: []byte(v)})
	}
	return hs
}

func (r *rawKafkaRow) promise(_ *kgo.Record, err error) {
	if err != nil {
		r.perr.CompareAndSwap(nil, &err)
	}
}

func (r *rawKafkaRow) produce(ctx context.Context, i int, hs []kgo.RecordHeader) {
	k := i % len(r.e.fx.payloads)
	r.prod.Produce(ctx, &kgo.Record{
		Topic:   r.topic,
		Key:     []byte(r.e.fx.symbols[k]),
		Value:   r.e.fx.payloads[k],
		Headers: hs,
	}, r.promise)
}

func (r *rawKafkaRow) publishN(ctx context.Context, n int) error {
	for i := range n {
		r.produce(ctx, i, r.headers[i%len(r.headers)])
	}
	return r.flush(ctx)
}

func (r *rawKafkaRow) publishSeq(ctx context.Context, seq int) error {
	src := r.headers[seq%len(r.headers)]
	hs := append(append(make([]kgo.RecordHeader, 0, len(src)+1), src...), kgo.RecordHeader{Key: seqHeader, Value: []byte(seqString(seq))})
	r.produce(ctx, seq, hs)
	if p := r.perr.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *rawKafkaRow) flush(ctx context.Context) error {
	if err := r.prod.Flush(ctx); err != nil {
		return err
	}
	if p := r.perr.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *rawKafkaRow) start(ctx context.Context, h *hook) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.e.kafkaBrokers...),
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(r.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
	}
	if r.fetchMax > 0 {
		opts = append(opts, kgo.FetchMaxBytes(r.fetchMax))
	}
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cons.PollFetches(pctx)
			if fs.IsClientClosed() || pctx.Err() != nil {
				return
			}
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.Canceled) {
					h.fail(err)
				}
			})
			fs.EachRecord(func(rec *kgo.Record) {
				seq := -1
				if h.wantSeq() {
					for _, hd := range rec.Headers {
						if hd.Key == seqHeader {
							seq = parseSeq(string(hd.Value))
						}
					}
				}
				h.hit(seq)
			})
			cons.MarkCommitRecords(fs.Records()...)
		}
	}()
	r.cl.add(func(context.Context) error {
		cancel()
		<-done
		cons.Close() // commits the marked offsets, leaves the group
		return nil
	})
	return nil
}

func (r *rawKafkaRow) close(ctx context.Context) error { return r.cl.close(ctx) }

// openAdapterKafka opens watermill-kafka v3.0.6 (sarama v1.43.3): its
// synchronous publisher (one round trip per message) keyed by symbol, and
// its consumer-group subscriber from the oldest offset. Config.Version
// stays at V2_3_0_0: newer versions never join a group on kfake with this
// sarama.
func openAdapterKafka(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &adapterRow{e: e, topic: ns + ".wm"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return e.deleteKafka(ctx, ns) })
	if err := createKafkaTopic(ctx, e.kafkaBrokers, r.topic); err != nil {
		return nil, err
	}
	marshaler := wkafka.NewWithPartitioningMarshaler(func(_ string, m *message.Message) (string, error) {
		return m.Metadata.Get(events.MetaPartitionKey), nil
	})
	pcfg := wkafka.DefaultSaramaSyncPublisherConfig()
	pcfg.Version = sarama.V2_3_0_0
	pub, err := wkafka.NewPublisher(wkafka.PublisherConfig{
		Brokers: e.kafkaBrokers, Marshaler: marshaler, OverwriteSaramaConfig: pcfg,
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.pub = pub
	r.cl.add(func(context.Context) error { return pub.Close() })
	scfg := wkafka.DefaultSaramaSubscriberConfig()
	scfg.Version = sarama.V2_3_0_0
	scfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{
		Brokers: e.kafkaBrokers, Unmarshaler: marshaler, OverwriteSaramaConfig: scfg, ConsumerGroup: ns + ".wg",
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.sub = sub
	r.cl.add(func(context.Context) error { return sub.Close() })
	return r, nil
}
