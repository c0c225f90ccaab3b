package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
)

// Publisher publishes to a Transport; the Watermill topic is the routing
// key. It is safe for concurrent use; concurrent calls share producer
// batches.
type Publisher struct {
	t *Transport
}

// Publish sends messages to the topic of topic's kind (the topic prefix
// followed by the first segment of the routing key), keyed by their
// "partitionkey" metadata, and returns once the broker acknowledged every
// one of them (acks=all, idempotent producer) — or with an error. All
// messages are handed to the producer before Publish waits, so they travel
// in as few requests as possible; messages of one partition key keep their
// order.
//
// Publish honours the messages' contexts: it returns an error wrapping
// ctx.Err() when the first message's context (or any other message's, if
// they differ) is done first. Messages already sent may still be written
// then: a retry can duplicate them, never lose them. A failure of the
// broker is a *PublishError naming the first message that failed;
// messages before it may have been written. An invalid routing key is an
// error wrapping events.ErrInvalidRoutingKey, one that cannot name a Kafka
// topic wraps ErrInvalidTopic; then nothing is sent.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	if err := events.ValidateRoutingKey(topic); err != nil {
		return fmt.Errorf("kafka: publish: %w", err)
	}
	t := p.t
	ktopic, err := t.topicFor(topic)
	if err != nil {
		return err
	}
	if len(messages) == 0 {
		return nil
	}
	if !t.beginPublish() {
		return ErrClosed
	}
	defer t.publishing.Done()

	ctx, stop := waitContext(messages)
	defer stop()
	if err := t.ensureTopic(ctx, ktopic); err != nil {
		return err
	}

	w := &produceWait{total: int64(len(messages)), done: make(chan struct{})}
	w.left.Store(w.total)
	recs := make([]kgo.Record, len(messages))
	enc := newEncoder(messages)
	for i, msg := range messages {
		r := &recs[i]
		r.Topic = ktopic
		r.Value = msg.Payload
		r.Context = t.ctx
		enc.encode(r, msg, topic)
		t.prod.Produce(msg.Context(), r, w.promise)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return fmt.Errorf("kafka: publish %q: waiting for acknowledgements: %w", topic, context.Cause(ctx))
	}
	if f := w.failed.Load(); f > 0 {
		w.mu.Lock()
		defer w.mu.Unlock()
		uuid := ""
		for i := range recs {
			if &recs[i] == w.firstRec {
				uuid = messages[i].UUID
				break
			}
		}
		return &PublishError{Key: topic, UUID: uuid, Failed: int(f), Total: len(messages), Err: w.firstErr}
	}
	return nil
}

// Close is a no-op; close the Transport instead.
func (p *Publisher) Close() error { return nil }

// produceWait collects the promises of one Publish call. kgo calls the
// promises one at a time on its own goroutine, so they must be quick.
type produceWait struct {
	total  int64
	left   atomic.Int64
	failed atomic.Int64
	done   chan struct{}

	mu       sync.Mutex
	firstErr error
	firstRec *kgo.Record
}

func (w *produceWait) promise(r *kgo.Record, err error) {
	if err != nil {
		if w.failed.Add(1) == 1 {
			w.mu.Lock()
			w.firstErr, w.firstRec = err, r
			w.mu.Unlock()
		}
	}
	if w.left.Add(-1) == 0 {
		close(w.done)
	}
}

// waitContext returns the context Publish waits with: the messages'
// context when they share one (the usual case), else one that ends when
// any of them ends.
func waitContext(messages []*message.Message) (context.Context, func()) {
	first := messages[0].Context()
	same := true
	for _, m := range messages[1:] {
		if m.Context() != first {
			same = false
			break
		}
	}
	if same {
		return first, func() {}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	seen := map[context.Context]bool{}
	var stops []func() bool
	for _, m := range messages {
		mctx := m.Context()
		if seen[mctx] {
			continue
		}
		seen[mctx] = true
		stops = append(stops, context.AfterFunc(mctx, func() { cancel(mctx.Err()) }))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel(nil)
	}
}
