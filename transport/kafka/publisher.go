package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// producer is the Driver's driver.Topic.
type producer Driver

// SendBatch produces every message to the topic of its kind, keyed by its
// partition key, all at once (kgo batches them per partition and keeps
// their order: idempotent, acks=all), then waits for every
// acknowledgement. Records that failed are named in a *driver.SendError
// wrapping kgo's or the broker's error (kerr.UnknownTopicOrPartition …);
// a record refused as too large — by kgo against WithMaxMessageBytes, or
// by the broker against the topic's max.message.bytes, which can be lower
// — wraps transport.ErrTooLarge as well, so that the poison middleware
// stores it in its claim store instead of retrying it forever. (The broker
// refuses a whole record batch: records of the same partition batched
// with the big one fail alike.) A message over the limit the driver
// states (Capabilities: WithMaxMessageBytes less the framing) is a
// *transport.TooLargeError, and an invalid kind a *TopicError: then
// nothing is sent.
func (p *producer) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	d := (*Driver)(p)
	if len(msgs) == 0 {
		return nil
	}
	st := getSendState(len(msgs))
	recs := st.recs
	// The records first: a message over the limit fails the call before
	// anything is sent, even a topic created (ChecksSizes).
	limit := d.maxMessageBytes()
	// One clock reading for the batch: kgo reads the clock for every
	// record without a timestamp (and keeps milliseconds).
	now := time.Now()
	for i, m := range msgs {
		r := &recs[i]
		r.Value = m.Payload
		// Not ctx: kgo fails every record buffered with a cancelled
		// record, those of concurrent calls too.
		r.Context = context.Background()
		r.Timestamp = now
		if size := st.enc.encode(r, m) + len(m.UUID) + len(m.Payload); size > limit {
			putSendState(st)
			return &transport.TooLargeError{Driver: "kafka", Key: m.Key, UUID: m.UUID, What: "message", Size: size, Limit: limit}
		}
	}

	// Then the topics: an invalid kind fails the whole call before
	// anything is sent.
	var last *topicState
	for i, m := range msgs {
		if last == nil || !sameKind(last, d.cfg.prefix, m.Key) {
			ts, err := d.topic(m.Key)
			if err == nil {
				err = d.ensure(ctx, ts)
			}
			if err != nil {
				putSendState(st)
				return err
			}
			last = ts
		}
		recs[i].Topic = last.name
	}

	w := &produceWait{done: make(chan struct{})}
	w.left.Store(int64(len(msgs)))
	promise := w.promise // one closure for the batch, not one per record
	for i := range msgs {
		if ctx.Err() != nil {
			// Produce fails a record at once when ctx ends while the
			// buffer is full: produce nothing after it, so that a key's
			// records never go out with a gap.
			if w.left.Add(-int64(len(msgs)-i)) == 0 {
				close(w.done)
			}
			break
		}
		d.prod.Produce(ctx, &recs[i], promise)
	}
	d.endLinger()
	if err := ctx.Err(); err != nil {
		return err // kgo may still hold records: st is not reused
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		// The records may still be written: a retry can duplicate them,
		// never lose them.
		return ctx.Err()
	}
	// Every promise ran: kgo holds none of the records any more.
	defer putSendState(st)
	if w.failed.Load() == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	se := &driver.SendError{Failed: make(map[int]error, len(w.errs))}
	for i := range msgs {
		if err, ok := w.errs[&recs[i]]; ok {
			if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
				err = fmt.Errorf("%w: kafka: message %s (key %q) to topic %s: %w", transport.ErrTooLarge, msgs[i].UUID, msgs[i].Key, recs[i].Topic, err)
			}
			se.Failed[i] = err
		}
	}
	return se
}

// endLinger sends what the producer holds back at once, unless the user
// asked for a linger (WithLinger): see defaultLingerCut.
func (d *Driver) endLinger() {
	if d.cutLinger {
		// Flush stops every linger, then waits for the buffered records
		// unless its context is done: with doneCtx, it returns at once.
		_ = d.prod.Flush(doneCtx)
	}
}

// doneCtx is a context that is already done.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// sendState is what SendBatch needs besides the messages: the records and
// the slab of their headers. It is reused from one call to the next once
// kgo has finished with every record (all promises ran), so that a batch
// allocates neither; a call that returns earlier (ctx ended) leaves its
// state to the garbage collector.
type sendState struct {
	recs []kgo.Record
	enc  encoder
}

// maxPooledBatch bounds the batches whose state is reused: one huge batch
// must not keep its records alive in the pool.
const maxPooledBatch = 4096

var sendStates sync.Pool

// getSendState returns a state with n zero records.
func getSendState(n int) *sendState {
	st, _ := sendStates.Get().(*sendState)
	if st == nil {
		st = new(sendState)
	}
	if cap(st.recs) < n {
		st.recs = make([]kgo.Record, n)
	} else {
		st.recs = st.recs[:n]
	}
	return st
}

func putSendState(st *sendState) {
	if cap(st.recs) > maxPooledBatch {
		return
	}
	// Drop every reference to the messages (payloads, header values).
	clear(st.recs[:cap(st.recs)])
	clear(st.enc.hs[:cap(st.enc.hs)])
	st.enc.hs = st.enc.hs[:0]
	sendStates.Put(st)
}

// sameKind reports whether key's kind names st's topic, without
// allocating.
func sameKind(st *topicState, prefix, key string) bool {
	kind := st.name[len(prefix):] // st.name is prefix + kind
	return len(key) >= len(kind) && key[:len(kind)] == kind && (len(key) == len(kind) || key[len(kind)] == '.')
}

// produceWait collects the promises of one SendBatch call. kgo calls the
// promises one at a time on its own goroutine, so they must be quick.
type produceWait struct {
	left   atomic.Int64
	failed atomic.Int64
	done   chan struct{}

	mu   sync.Mutex
	errs map[*kgo.Record]error
}

func (w *produceWait) promise(r *kgo.Record, err error) {
	if err != nil {
		w.failed.Add(1)
		w.mu.Lock()
		if w.errs == nil {
			w.errs = make(map[*kgo.Record]error)
		}
		w.errs[r] = err
		w.mu.Unlock()
	}
	if w.left.Add(-1) == 0 {
		close(w.done)
	}
}
