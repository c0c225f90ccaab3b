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
	return s.rewind(ctx, info, nil)
}

// Catching up after a reconnect.
//
// The messages JetStream delivered into a pull request while the
// connection was being cut never reach the subscription, yet JetStream
// counts them delivered: it would redeliver them only after AckWait, and
// meanwhile hand the consumer's newer messages to the next pull request,
// so that the newer events of a key would be handled before the older
// ones the cut lost. So after every reconnect of its connection, before it
// hands out anything more, a subscription catches up (recover): it moves
// its pull requests to a new inbox — JetStream delivers nothing more into
// the requests that name the old one, which nats.go subscribed again on
// the reconnect and which could get newer messages first — keeping back
// what arrived on the old one (anything read after the reconnect may
// have been delivered after what was lost), and then, if no other member
// of the consumer is live, NAKs
// every unacked sequence it does not hold, in stream order (rewind): the
// lost messages, the ones kept back, those whose ack the cut lost. The
// next pull gets them first. While another member lives nothing is
// rewound (its messages stay with it), as for a take-over: only the
// messages kept back are NAKed, and the lost ones come after AckWait.

// recover catches s up after a reconnect of the connection since the
// last one it caught up with (s.epoch); otherwise it does nothing. s.cons
// must be set.
func (s *subscription) recover(ctx context.Context, max int) error {
	now := s.d.nc.Stats().Reconnects
	if now == s.epoch {
		return nil
	}
	if s.inbox != nil {
		// JetStream checks that a request's reply subject has a
		// subscriber before it delivers into the request: the UNSUB
		// reaches it before the consumer info and the NAKs below.
		_ = s.inbox.Unsubscribe() // fails only on a lost connection: recovered again then
	drain:
		for {
			select {
			case m := <-s.msgs:
				if st, _ := s.status(m); st == pullMessage {
					s.dropped = append(s.dropped, m)
				}
			default:
				break drain
			}
		}
		s.inbox, s.msgs, s.pending = nil, nil, 0
		s.ghostUntil = time.Time{} // the old requests deliver into the old inbox
		if err := s.listen(max); err != nil {
			return err
		}
	}
	n, live, err := s.rewindLost(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		s.d.recovered.Add(n)
		s.d.log.Info("nats: rewound the unacked messages a reconnect may have lost", "consumer", s.consumer, "sequences", n)
	}
	if live {
		// Not rewound: give back at least what s kept back.
		for _, m := range s.dropped {
			_ = s.settle(m, ackNak) // fails only on a lost connection: then after AckWait
		}
	}
	clear(s.dropped)
	s.dropped = s.dropped[:0]
	s.epoch = now
	return nil
}

// rewindLost rewinds the consumer's unacked sequences that s does not
// hold, unless another member of the consumer is live. It returns how
// many it NAKed, and whether another member is live.
func (s *subscription) rewindLost(ctx context.Context) (n uint64, live bool, err error) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("consumer %s: %w", s.consumer, err)
	}
	s.mu.Lock()
	held := make(map[uint64]bool, len(s.held))
	for seq := range s.held {
		held[seq] = true
	}
	s.mu.Unlock()
	if info.NumAckPending <= len(held) {
		return 0, false, nil // all s's: nothing lost
	}
	// Ask the other members: s stops answering meanwhile (a moment more
	// of the disconnection, during which it counts as gone anyway).
	s.unannounce()
	s.presence = nil
	defer func() {
		if aerr := s.announce(); err == nil {
			err = aerr
		}
	}()
	if live, err = s.anyoneLive(ctx); err != nil || live {
		return 0, live, err
	}
	if info, err = s.cons.Info(ctx); err != nil {
		return 0, false, fmt.Errorf("consumer %s: %w", s.consumer, err)
	}
	n, err = s.rewind(ctx, info, held)
	return n, false, err
}

// rewind puts every message of the consumer delivered and not acked — all
// of them lie in the stream sequences after the ack floor up to the last
// delivered — but those in skip on JetStream's redelivery queue in stream
// order, and returns when the server has processed that, so that the next
// pull gets them first (JetStream serves its redelivery queue, first in
// first out, before new messages, MaxAckPending notwithstanding), and how
// many sequences it NAKed. Delivery counts are kept:
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
func (s *subscription) rewind(ctx context.Context, info *jetstream.ConsumerInfo, skip map[uint64]bool) (uint64, error) {
	first, last := info.AckFloor.Stream+1, info.Delivered.Stream
	for last >= first && skip[last] {
		last--
	}
	if last < first {
		return 0, nil
	}
	nc := s.d.nc
	pre := "$JS.ACK." + s.stream + "." + s.consumer + ".1."
	post := "." + strconv.FormatUint(info.Delivered.Consumer, 10) + ".0.0"
	var (
		subj []byte
		n    uint64
	)
	for seq := first; seq <= last; seq++ {
		if skip[seq] {
			continue
		}
		n++
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
	return n, nil
}
