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
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	s := newSubscription(d, "", pattern) // names only: nothing starts
	stream, err := d.js.Stream(ctx, s.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nats: read %s: stream %s: %w", pattern, s.stream, err)
	}
	last := stream.CachedInfo().State.LastSeq
	cfg := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		FilterSubject:     s.filter,
		InactiveThreshold: readIdle,
		MemoryStorage:     true,
	}
	switch start.At {
	case driver.StartTime:
		t := start.Time
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream != s.stream {
				continue
			}
			seq, err := strconv.ParseUint(p.Offset, 10, 64)
			if err != nil {
				return fmt.Errorf("nats: read %s: position %s: offset is not a stream sequence", pattern, p)
			}
			if seq >= last {
				return nil
			}
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
	}
	cons, err := stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("nats: read %s: create reader on %s: %w", pattern, s.stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	if cons.CachedInfo().NumPending == 0 {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := cons.FetchNoWait(readPage)
		if err != nil {
			return fmt.Errorf("nats: read %s: %w", pattern, err)
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("nats: read %s: %w", pattern, err)
			}
			seq := meta.Sequence.Stream
			if seq > last {
				return nil
			}
			var dm driver.Message
			decode(&dm, d.cfg.prefix, s.stream, m.Subject(), m.Headers(), m.Data(), seq, 0, strconv.FormatUint(seq, 10))
			dm.AckID = nil
			if !fn(&dm) || seq == last || meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("nats: read %s: %w", pattern, err)
		}
	}
}
