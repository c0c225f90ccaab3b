package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Taking over from a member that is gone.
//
// JetStream redelivers a message a member received and did not ack only
// after AckWait, and meanwhile hands the consumer's newer messages to
// whoever pulls: a member restarted after a crash would handle the newer
// events of a key before the older ones the dead process had pulled. So a
// subscription, before it pulls from a durable consumer that has unacked
// messages, asks whether any member of the consumer is alive (the presence
// subject below); if none answers, the unacked messages are the dead
// members', and it queues them all for redelivery, in stream order, ahead
// of any message not yet delivered (rewind). Messages a live member holds
// are never taken away from it.

// presencePrefix starts the core NATS subject on which the live
// subscriptions of a durable consumer answer requests:
// _TRADEBUS.LIVE.<stream>.<consumer>. It is outside every stream the
// driver creates.
const presencePrefix = "_TRADEBUS.LIVE."

// presenceWait bounds how long Subscribe waits for a live member to answer.
// A subscription answers from nats.go's reader at once; a member that does
// not answer within presenceWait has a connection the server has not yet
// found dead (a process killed a moment ago, a host gone), and its
// messages are taken over.
const presenceWait = 2 * time.Second

// NAK payloads, as nats.go's Nak and NakWithDelay send them. A NAK with a
// delay takes the message off the redelivery queue and lets it expire
// after the delay; a plain NAK puts it at the end of the queue if it is not
// on it.
var (
	nakNow   = []byte(`-NAK {"delay": 0}`)
	nakQueue = []byte("-NAK")
)

func presenceSubject(stream, consumer string) string {
	return presencePrefix + stream + "." + consumer
}

// unannounce ends announce.
func (s *subscription) unannounce() {
	if s.presence != nil {
		_ = s.presence.Unsubscribe() // fails only on a closed connection: gone anyway
	}
}

// announce makes s answer on its consumer's presence subject until Close.
func (s *subscription) announce() error {
	sub, err := s.d.nc.Subscribe(presenceSubject(s.stream, s.consumer), func(m *natsgo.Msg) {
		_ = m.Respond(nil) // fails only on a lost connection: then the member looks gone
	})
	if err != nil {
		return fmt.Errorf("presence of %s: %w", s.consumer, err)
	}
	s.presence = sub
	return nil
}

// anyoneLive reports whether a live subscription of s's consumer, in any
// process, answers within presenceWait.
func (s *subscription) anyoneLive(ctx context.Context) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, presenceWait)
	defer cancel()
	_, err := s.d.nc.RequestWithContext(rctx, presenceSubject(s.stream, s.consumer), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, natsgo.ErrNoResponders):
		return false, nil
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return false, nil // subscribed but silent: see presenceWait
	default:
		return false, fmt.Errorf("presence of %s: %w", s.consumer, err)
	}
}

// takeOver rewinds cons if it has unacked messages and no live member
// answers for it. It returns how many stream sequences it NAKed.
func (s *subscription) takeOver(ctx context.Context, cons jetstream.Consumer) (uint64, error) {
	if info := cons.CachedInfo(); info == nil || info.NumAckPending == 0 {
		return 0, nil
	}
	live, err := s.anyoneLive(ctx)
	if err != nil || live {
		return 0, err
	}
	info, err := cons.Info(ctx) // fresh: the presence wait may have taken a while
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", s.consumer, err)
	}
	if info.NumAckPending == 0 {
		return 0, nil
	}
	return s.rewind(ctx, info)
}

// rewind puts every message of the consumer delivered and not acked — all
// of them lie in the stream sequences after the ack floor up to the last
// delivered — on JetStream's redelivery queue in stream order, and returns
// when the server has processed that, so that the next pull gets them
// first (JetStream serves its redelivery queue, first in first out, before
// new messages, MaxAckPending notwithstanding). Delivery counts are kept:
// MaxDeliver counts the redelivery as it would count one after AckWait.
//
// It speaks the ack protocol the server's consumer subscribes to,
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>,
// one sequence at a time (the server cannot list a consumer's pending
// sequences): the server takes a NAK of a sequence it has pending whose
// delivery sequence lies between the consumer's ack floor and its last
// delivery (the one consumer info reports is), and ignores it otherwise.
// Each pending sequence gets a NAK with delay 0, which takes it off the
// redelivery queue should AckWait already have put it there (in whatever
// order it expired), then a plain NAK, which puts it back at the end: so
// the queue ends up in stream order. The last NAK is a request: the server
// answers it after it processed the NAKs sent before, in order.
func (s *subscription) rewind(ctx context.Context, info *jetstream.ConsumerInfo) (uint64, error) {
	first, last := info.AckFloor.Stream+1, info.Delivered.Stream
	if last < first {
		return 0, nil
	}
	nc := s.d.nc
	pre := "$JS.ACK." + s.stream + "." + s.consumer + ".1."
	post := "." + strconv.FormatUint(info.Delivered.Consumer, 10) + ".0.0"
	var subj []byte
	for seq := first; seq <= last; seq++ {
		subj = append(strconv.AppendUint(append(subj[:0], pre...), seq, 10), post...)
		if err := nc.Publish(string(subj), nakNow); err != nil {
			return 0, fmt.Errorf("rewind %s: %w", s.consumer, err)
		}
		if seq == last {
			break
		}
		if err := nc.Publish(string(subj), nakQueue); err != nil {
			return 0, fmt.Errorf("rewind %s: %w", s.consumer, err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeoutWithoutCtx)
		defer cancel()
	}
	if _, err := nc.RequestWithContext(ctx, string(subj), nakQueue); err != nil {
		return 0, fmt.Errorf("rewind %s: %w", s.consumer, err)
	}
	return last - first + 1, nil
}
