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

// Compile-time check.
var _ driver.Browser = (*Driver)(nil)

// Browse implements driver.Browser. It reads the stream of the pattern's
// kind message by message (a message get by sequence and the durable
// consumer's filter subject — no consumer is created, nothing is
// delivered, acked or counted) from just after the durable consumer's ack
// floor to the stream's last message as it is when Browse starts: the
// messages the consumer has not delivered yet, and those delivered and
// not acked. JetStream does not say which messages above the ack floor
// were acked out of order (while an older one is still pending): a
// delivered message that has a newer copy with the same UUID (one Replay
// put back) is left out; any other such message is shown. It holds the
// messages from the ack floor on in memory before passing them. Deliveries
// is 0. For a consumer that does
// not exist yet it shows what WithStart would give it: nothing (StartNew)
// or the stream's messages matching the pattern (StartOldest); a missing
// stream has nothing to show.
func (d *Driver) Browse(ctx context.Context, group, pattern string, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	s := newSubscription(d, group, pattern) // names only: nothing starts
	stream, err := d.js.Stream(ctx, s.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nats: browse %s: stream %s: %w", pattern, s.stream, err)
	}
	last := stream.CachedInfo().State.LastSeq
	from, filter := uint64(1), s.filter
	cons, err := stream.Consumer(ctx, s.consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if d.cfg.start != StartOldest {
			return nil
		}
	case err != nil:
		return fmt.Errorf("nats: browse %s: consumer %s: %w", pattern, s.consumer, err)
	default:
		info := cons.CachedInfo()
		from, filter = info.AckFloor.Stream+1, info.Config.FilterSubject
	}
	if filter == "" {
		filter = ">" // the whole stream of the kind
	}
	delivered := uint64(0) // last stream sequence the consumer delivered
	if cons != nil {
		delivered = cons.CachedInfo().Delivered.Stream
	}
	var msgs []driver.Message
	latest := make(map[string]uint64) // UUID -> sequence of its newest copy
	seqs := make([]uint64, 0)
	for seq := from; seq <= last; {
		raw, err := getMsg(ctx, stream, seq, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("nats: browse %s: message %d of %s: %w", pattern, seq, s.stream, err)
		}
		if raw.Sequence > last {
			break
		}
		var dm driver.Message
		decode(&dm, d.cfg.prefix, s.stream, raw.Subject, raw.Header, raw.Data, raw.Sequence, 0, strconv.FormatUint(raw.Sequence, 10))
		dm.AckID = nil
		msgs = append(msgs, dm)
		seqs = append(seqs, raw.Sequence)
		latest[dm.UUID] = raw.Sequence
		seq = raw.Sequence + 1
	}
	for i := range msgs {
		// A delivered message with a newer copy was put back (acked after
		// its copy was stored), possibly above the ack floor.
		if seqs[i] <= delivered && latest[msgs[i].UUID] != seqs[i] {
			continue
		}
		if !fn(&msgs[i]) {
			return nil
		}
	}
	return nil
}

// getMsgWait bounds one attempt of a stream-message read. A JetStream API
// request is a core NATS request, answered at most once: a reply lost (a
// reconnect in between, a client that dropped it as a slow consumer) would
// otherwise hold Browse until its caller's deadline. The read changes
// nothing, so it is sent again.
const getMsgWait = 5 * time.Second

// getMsg reads the first message at or after seq whose subject matches
// filter, trying again after an attempt that got no answer in getMsgWait
// while ctx lasts.
func getMsg(ctx context.Context, stream jetstream.Stream, seq uint64, filter string) (*jetstream.RawStreamMsg, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, getMsgWait)
		raw, err := stream.GetMsg(actx, seq, jetstream.WithGetMsgSubject(filter))
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return raw, err
		}
	}
}
