package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport/driver"
)

// readPage is how many messages one fetch of Read asks for.
const readPage = 256

// readIdle is how long the ephemeral consumer of a Read that went away
// (a crashed process) outlives it on the server.
const readIdle = time.Minute

// followPoll is how often a follower looks again for a stream that does
// not exist yet.
const followPoll = 250 * time.Millisecond

// Compile-time check.
var _ driver.Reader = (*Driver)(nil)

// Read implements driver.Reader with an ephemeral consumer (no durable
// name, no acks, in memory, deleted when Read returns) on the pattern's
// kind stream, filtered as a subscription's: from the stream's first
// message (StartBeginning), the sequence after the Position naming the
// stream or the first message if none names it (StartAfter), or the first
// message stored at or after the time (StartTime, DeliverByStartTime) up
// to the stream's last message as it is when Read starts. Messages come
// in stream order, each with its Position (stream, stream sequence). A
// stream that does not exist has nothing to read.
//
// With start.Follow the consumer is read on past that message with pull
// requests of up to WithPullWait each (a message is passed as soon as it
// reaches the open request), until fn returns false or ctx is done (then
// it returns ctx.Err() at once: the open request is abandoned). A stream
// that does not exist yet is waited for (looked up again every
// followPoll). JetStream keeps a pull consumer whose requests come at
// least every InactiveThreshold (one minute), or that has a request
// waiting, so an idle follower's consumer lives on; should it vanish
// anyway (a server restart lost it), or should a message delivered to a
// request never reach it (a connection cut: the consumer sequence skips),
// the consumer is created again after the last message passed.
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	s := newSubscription(d, "", pattern) // names only: nothing starts
	stream, err := d.readStream(ctx, s.stream, start.Follow)
	if err != nil || stream == nil {
		if err != nil {
			err = fmt.Errorf("nats: read %s: stream %s: %w", pattern, s.stream, err)
		}
		return err
	}
	last := stream.CachedInfo().State.LastSeq
	r := &reader{d: d, stream: stream, pattern: pattern, streamName: s.stream, cfg: jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		FilterSubject:     s.filter,
		InactiveThreshold: readIdle,
		MemoryStorage:     true,
	}}
	switch start.At {
	case driver.StartTime:
		t := start.Time
		r.cfg.DeliverPolicy, r.cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream != s.stream {
				continue
			}
			seq, err := strconv.ParseUint(p.Offset, 10, 64)
			if err != nil {
				return fmt.Errorf("nats: read %s: position %s: offset is not a stream sequence", pattern, p)
			}
			if seq >= last && !start.Follow {
				return nil
			}
			r.cfg.DeliverPolicy, r.cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
	}
	if err := r.create(ctx); err != nil {
		return err
	}
	defer r.delete(ctx)
	if start.Follow {
		return r.follow(ctx, fn)
	}
	if r.cons.CachedInfo().NumPending == 0 {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := r.cons.FetchNoWait(readPage)
		if err != nil {
			return fmt.Errorf("nats: read %s: %w", pattern, err)
		}
		for m := range batch.Messages() {
			dm, meta, err := r.message(m)
			if err != nil {
				return err
			}
			seq := meta.Sequence.Stream
			if seq > last {
				return nil
			}
			if !fn(dm) || seq == last || meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("nats: read %s: %w", pattern, err)
		}
	}
}

// readStream returns the stream name, or nil if it does not exist; with
// follow it waits until it exists or ctx is done (ctx.Err()).
func (d *Driver) readStream(ctx context.Context, name string, follow bool) (jetstream.Stream, error) {
	for {
		stream, err := d.js.Stream(ctx, name)
		if err == nil {
			return stream, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
		if !follow {
			return nil, nil
		}
		t := time.NewTimer(followPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if d.isClosed() {
			return nil, ErrClosed
		}
	}
}

// reader is the ephemeral consumer of one Read.
type reader struct {
	d          *Driver
	stream     jetstream.Stream
	streamName string
	pattern    string
	cfg        jetstream.ConsumerConfig
	cons       jetstream.Consumer // nil until created
}

// create creates the consumer with r.cfg.
func (r *reader) create(ctx context.Context) error {
	cons, err := r.stream.CreateConsumer(ctx, r.cfg)
	if err != nil {
		return fmt.Errorf("nats: read %s: create reader on %s: %w", r.pattern, r.streamName, err)
	}
	r.cons = cons
	return nil
}

// delete deletes the consumer, if any, even when ctx is done.
func (r *reader) delete(ctx context.Context) {
	if r.cons == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = r.stream.DeleteConsumer(dctx, r.cons.CachedInfo().Name)
	r.cons = nil
}

// message decodes m.
func (r *reader) message(m jetstream.Msg) (*driver.Message, *jetstream.MsgMetadata, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, nil, fmt.Errorf("nats: read %s: %w", r.pattern, err)
	}
	dm := new(driver.Message)
	decode(dm, r.d.cfg.prefix, r.streamName, m.Subject(), m.Headers(), m.Data(), meta.Sequence.Stream, 0, strconv.FormatUint(meta.Sequence.Stream, 10))
	dm.AckID = nil
	return dm, meta, nil
}

// follow passes the consumer's messages as they come until fn returns
// false (nil) or ctx is done (ctx.Err()).
func (r *reader) follow(ctx context.Context, fn func(*driver.Message) bool) error {
	wait := min(r.d.cfg.pullWait, readIdle/4)
	var (
		passed   uint64 // stream sequence of the last message passed
		consSeq  uint64 // consumer sequence of the last delivery
		recreate bool   // the consumer was created again after a failure and has delivered nothing since
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.d.isClosed() {
			return ErrClosed
		}
		batch, err := r.cons.Fetch(readPage, jetstream.FetchMaxWait(wait))
		if err != nil {
			return fmt.Errorf("nats: follow %s: %w", r.pattern, err)
		}
		got, err := r.pass(ctx, batch, &consSeq, &passed, fn)
		if err != nil || got == stopped {
			return err // nil if fn stopped
		}
		if got == delivered {
			recreate = false
		}
		ferr := batch.Error()
		if got != lost && ferr == nil {
			continue
		}
		if ferr != nil && recreate {
			return fmt.Errorf("nats: follow %s: %w", r.pattern, ferr)
		}
		// Start a consumer again after the last message passed.
		r.delete(ctx)
		if passed > 0 {
			r.cfg.DeliverPolicy, r.cfg.OptStartSeq, r.cfg.OptStartTime = jetstream.DeliverByStartSequencePolicy, passed+1, nil
		}
		if err := r.create(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		consSeq, recreate = 0, true
	}
}

// What a pull request of a follower brought.
const (
	none      = iota // no message
	delivered        // messages, all passed
	lost             // the consumer sequence skipped: deliveries were lost
	stopped          // fn returned false
)

// pass passes the messages of batch as they come, until it ends, a
// delivery is missing (lost) or fn returns false (stopped); or ctx is done
// (ctx.Err(): the request is left to end, and its goroutine with it, when
// it expires or the consumer is deleted).
// consSeq and passed are the consumer and stream sequence of the last
// message passed.
func (r *reader) pass(ctx context.Context, batch jetstream.MessageBatch, consSeq, passed *uint64, fn func(*driver.Message) bool) (int, error) {
	got := none
	for {
		select {
		case m, ok := <-batch.Messages():
			if !ok {
				return got, nil
			}
			dm, meta, err := r.message(m)
			if err != nil {
				return got, err
			}
			if meta.Sequence.Consumer != *consSeq+1 {
				return lost, nil
			}
			*consSeq, *passed, got = meta.Sequence.Consumer, meta.Sequence.Stream, delivered
			if !fn(dm) {
				return stopped, nil
			}
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
}
