package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// fetch is one pull request: size messages asked for, got of them read.
// Only a request that got all it asked for (complete, its channel about to
// close) may have a successor: JetStream fills the waiting requests of a
// consumer round-robin, so with two open requests (each its own inbox) the
// messages of one key could be read out of order.
type fetch struct {
	b         jetstream.MessageBatch
	size, got int
}

// pullSize is how many messages one pull request asks for: pullBatches
// of the core's batches (fewer round trips in which JetStream waits for
// the next request), at most MaxAckPending.
func (s *subscription) pullSize(max int) int {
	return min(pullBatches*max, s.d.cfg.maxAckPending)
}

// pullBatches is how many of the core's batches one pull request asks for.
const pullBatches = 4

// pull opens a pull request for size messages unless one is open and not
// complete.
func (s *subscription) pull(size int) error {
	if n := len(s.fetches); n > 0 && s.fetches[n-1].got < s.fetches[n-1].size {
		return nil
	}
	s.fetchCount.Add(1)
	b, err := s.cons.Fetch(size, jetstream.FetchMaxWait(s.d.cfg.pullWait))
	if err != nil {
		s.readErrors.Add(1)
		return fmt.Errorf("nats: pull from %s: %w", s.consumer, err)
	}
	s.fetches = append(s.fetches, fetch{b: b, size: size})
	return nil
}

// subscription is the driver.Subscription of one (group, pattern): it pulls
// from the durable consumer of the pair with one pull request (Fetch, see
// pullSize) at a time, kept open across ReceiveBatch calls until it is
// filled or expires; the next is sent as soon as one is filled, while the
// core works on its messages, and keeps the
// messages the core holds (queued, with a handler, or waiting out the
// core's redelivery backoff after a nack) in progress at JetStream.
//
// The message lease: rather than a huge AckWait, a heartbeat goroutine
// (one per subscription, stopped by Close) sends InProgress every
// AckWait/3 for every message received and neither acked nor nacked, so
// JetStream never redelivers a message the core still holds, however long
// its handler or backoff takes, while a crashed member's messages go to
// another member after AckWait — or at once, to a member that subscribes
// when none lives (takeover.go).
type subscription struct {
	d        *Driver
	group    string
	pattern  string
	kind     string
	stream   string
	consumer string
	filter   string

	// Used by ReceiveBatch (one goroutine at a time), then by Close.
	cons    jetstream.Consumer // nil: set up again
	fetches []fetch            // open pull requests, oldest first
	scratch []jetstream.Msg    // the messages ReceiveBatch reads, reused
	epoch   uint64             // the connection's reconnects when last caught up with (see recover)
	dropped []jetstream.Msg    // read after a reconnect, not handed out: for recover

	mu   sync.Mutex
	held map[uint64]*heldMsg // by stream sequence

	presence *natsgo.Subscription // answers on the presence subject until Close

	hbStop    chan struct{}
	hbDone    chan struct{}
	closeOnce sync.Once
	closeErr  error

	fetchCount atomic.Uint64 // pull requests sent, for tests
	readErrors atomic.Uint64 // failed pulls and consumer set-ups, for tests
}

var _ driver.Subscription = (*subscription)(nil)

// heldMsg is a received message the core holds, and its AckID: the ack
// subject is parsed once, when it is received.
type heldMsg struct {
	m              jetstream.Msg
	seq, delivered uint64
}

func newSubscription(d *Driver, group, pattern string) *subscription {
	filter, _ := filterFor(d.cfg.prefix, pattern)
	kind := events.Kind(pattern)
	return &subscription{
		d:        d,
		group:    group,
		pattern:  pattern,
		kind:     kind,
		stream:   streamName(d.cfg.prefix, kind),
		consumer: consumerName(group, pattern),
		filter:   filter,
		held:     make(map[uint64]*heldMsg),
		hbStop:   make(chan struct{}),
		hbDone:   make(chan struct{}),
		epoch:    d.nc.Stats().Reconnects,
	}
}

func (s *subscription) start() { go s.heartbeat() }

// ReceiveBatch implements driver.Subscription. It blocks until the first
// message arrives, then returns it with every message already received,
// up to max. Messages whose key does not match the pattern (when the
// consumer's filter subject is wider than the pattern, see filterFor) are
// returned too: the core acks them. A message JetStream delivers again
// while the core still holds it is dropped (the held delivery's ack
// settles it). While the connection is down ReceiveBatch waits for
// nats.go's reconnect, and after one it catches up (recover: what the cut
// lost comes first) before it returns anything more; a consumer or stream
// that vanished is set up again
// (starting at the beginning of its stream, which then holds only what
// came after the loss) on the next call after the error is returned.
func (s *subscription) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	got := s.scratch[:0]
	defer func() {
		clear(got) // keep no message alive
		s.scratch = got[:0]
	}()
	var refs []heldMsg
	for len(refs) == 0 {
		got = got[:0]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.waitConnected(ctx); err != nil {
			return nil, err
		}
		if s.cons == nil {
			cons, err := s.ensureConsumer(ctx, jetstream.DeliverAllPolicy)
			if err != nil {
				s.readErrors.Add(1)
				return nil, err
			}
			s.cons = cons
		}
		if err := s.recover(ctx); err != nil {
			if !s.d.nc.IsConnected() {
				continue // recover again after the reconnect
			}
			s.readErrors.Add(1)
			s.cons = nil
			return nil, err
		}
		if err := s.pull(s.pullSize(max)); err != nil {
			if !s.d.nc.IsConnected() {
				continue // wait for the reconnect above
			}
			s.cons = nil
			return nil, err
		}
		// Block for the first message.
		f := &s.fetches[0]
		select {
		case m, ok := <-f.b.Messages():
			if !ok {
				if err := s.endFetch(); err != nil {
					return nil, err
				}
				continue
			}
			f.got++
			if cap(got) < max {
				got = make([]jetstream.Msg, 0, max)
			}
			got = append(got, m)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Take what has arrived, up to max.
	more:
		for len(got) < max && len(s.fetches) > 0 {
			f := &s.fetches[0]
			select {
			case m, ok := <-f.b.Messages():
				if !ok {
					if err := s.endFetch(); err != nil {
						break more // the consumer is set up again on the next call
					}
					continue
				}
				f.got++
				got = append(got, m)
			default:
				break more
			}
		}
		if s.d.nc.Stats().Reconnects != s.epoch {
			// Read after a reconnect: delivered, perhaps, after messages
			// the connection lost. recover (above) gives them back.
			s.dropped = append(s.dropped, got...)
			clear(got)
			got = got[:0]
			continue
		}
		// Ask for the next batch now, while the core works on this one.
		if s.cons != nil && s.d.nc.IsConnected() {
			_ = s.pull(s.pullSize(max)) // an error comes again on the next call
		}
		refs = s.hold(got)
	}
	dms := make([]driver.Message, len(refs))
	out := make([]*driver.Message, len(refs))
	for i := range refs {
		h := &refs[i]
		decode(&dms[i], s.d.cfg.prefix, s.stream, h.m, h.seq, h.delivered)
		dms[i].AckID = h
		out[i] = &dms[i]
	}
	return out, nil
}

// endFetch drops the first pull request, which ended, and returns its
// error, if any: the consumer is then set up again.
func (s *subscription) endFetch() error {
	b := s.fetches[0].b
	s.fetches[0] = fetch{}
	s.fetches = s.fetches[1:]
	if err := b.Error(); err != nil {
		s.readErrors.Add(1)
		s.cons = nil
		return fmt.Errorf("nats: pull from %s: %w", s.consumer, err)
	}
	return nil
}

// waitConnected returns when the connection is up, ctx is done or the
// connection closed for good.
func (s *subscription) waitConnected(ctx context.Context) error {
	nc := s.d.nc
	if nc.IsConnected() {
		return nil
	}
	ch := nc.StatusChanged(natsgo.CONNECTED, natsgo.CLOSED)
	defer nc.RemoveStatusListener(ch)
	for {
		if nc.IsConnected() {
			return nil
		}
		if nc.IsClosed() {
			return fmt.Errorf("nats: connection closed: %w", ErrClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hold records msgs as held and returns them (in one allocation) without
// the ones already held (a redelivery of a message the core still has) or
// without an ack subject (not a JetStream delivery: terminated).
func (s *subscription) hold(msgs []jetstream.Msg) []heldMsg {
	out := make([]heldMsg, 0, len(msgs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		seq, delivered, ok := ackInfo(m.Reply())
		if !ok {
			s.d.log.Error("nats: message without JetStream metadata", "subject", m.Subject())
			_ = m.Term()
			continue
		}
		if _, dup := s.held[seq]; dup {
			continue
		}
		out = append(out, heldMsg{m: m, seq: seq, delivered: delivered})
		s.held[seq] = &out[len(out)-1] // out never grows past its capacity
	}
	return out
}

// release forgets ids as held and calls settle (Ack or Nak) on each.
func (s *subscription) release(ids []driver.AckID, settle func(jetstream.Msg) error) error {
	var first error
	failed := 0
	s.mu.Lock()
	for _, id := range ids {
		h, ok := id.(*heldMsg)
		if !ok {
			continue
		}
		if s.held[h.seq] == h {
			delete(s.held, h.seq)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		h, ok := id.(*heldMsg)
		if !ok {
			continue
		}
		if err := settle(h.m); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return fmt.Errorf("nats: %s: %d of %d not sent: %w", s.consumer, failed, len(ids), first)
	}
	return nil
}

// SendAcks implements driver.Subscription: one ack per message, each a
// fire-and-forget publish into the connection's buffer (no round trip
// waited for); AckExplicit has no multi-message ack.
func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	return s.release(ids, jetstream.Msg.Ack)
}

// SendNacks implements driver.Subscription: a NAK per message, which
// JetStream redelivers at once, to this or another member.
//
// The NAKs themselves are sent by Close, which the core calls right after:
// the core gives messages back only when it stops, and a NAK sent while
// this subscription's pull request is still open would be redelivered into
// that very request — and NAKed again by Close, spending a delivery of
// MaxDeliver for nothing. Until then the messages stay held (kept in
// progress).
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	return nil
}

// heartbeat sends InProgress every AckWait/3 for every held message.
func (s *subscription) heartbeat() {
	defer close(s.hbDone)
	tick := time.NewTicker(s.d.cfg.ackWait / 3)
	defer tick.Stop()
	var ms []jetstream.Msg
	for {
		select {
		case <-s.hbStop:
			return
		case <-tick.C:
		}
		ms = ms[:0]
		s.mu.Lock()
		for _, h := range s.held {
			ms = append(ms, h.m)
		}
		s.mu.Unlock()
		for _, m := range ms {
			_ = m.InProgress() // fails only for settled messages or a lost connection
		}
		clear(ms)
	}
}

// Close implements driver.Subscription: it stops the heartbeat, reads the
// open pull requests to their end (a pull request cannot be withdrawn,
// and a message delivered into one nobody reads waits out AckWait) and
// NAKs what arrives in them, what is still held and what ReceiveBatch
// read after a reconnect and did not hand out, so that the next
// member gets those at once. It returns an error wrapping ctx.Err() if
// ctx ended first (those messages come again after AckWait).
func (s *subscription) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.hbStop)
		<-s.hbDone
		defer s.d.forget(s)
		// Answer as live until the NAKs below are sent: they reach the
		// server before the unsubscribe.
		defer s.unannounce()
		for len(s.fetches) > 0 {
			select {
			case m, ok := <-s.fetches[0].b.Messages():
				if !ok {
					s.fetches[0] = fetch{}
					s.fetches = s.fetches[1:]
					continue
				}
				_ = m.Nak()
			case <-ctx.Done():
				s.closeErr = fmt.Errorf("nats: close %s: pull requests still open: %w", s.consumer, ctx.Err())
				return
			}
		}
		s.mu.Lock()
		for seq, h := range s.held {
			_ = h.m.Nak()
			delete(s.held, seq)
		}
		s.mu.Unlock()
		for _, m := range s.dropped {
			_ = m.Nak()
		}
		clear(s.dropped)
		s.dropped = nil
	})
	return s.closeErr
}

// ensureConsumer creates the stream and the durable consumer, or updates
// the consumer's settings; an existing consumer keeps its start position.
// policy is the deliver policy of a consumer that has to be created.
func (s *subscription) ensureConsumer(ctx context.Context, policy jetstream.DeliverPolicy) (jetstream.Consumer, error) {
	d := s.d
	if err := d.ensureStream(ctx, s.kind); err != nil {
		return nil, err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.consumer,
		Description:   fmt.Sprintf("tradebus group %s pattern %s", s.group, s.pattern),
		DeliverPolicy: policy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.cfg.ackWait,
		MaxDeliver:    d.cfg.maxDeliver,
		MaxAckPending: d.cfg.maxAckPending,
		FilterSubject: s.filter,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	cons, err := d.js.Consumer(ctx, s.stream, s.consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = d.js.CreateConsumer(ctx, s.stream, cfg)
		if !errors.Is(err, jetstream.ErrConsumerExists) {
			break
		}
		// Created by another member meanwhile: update it instead.
		if cons, err = d.js.Consumer(ctx, s.stream, s.consumer); err != nil {
			break
		}
		fallthrough
	case err == nil:
		info := cons.CachedInfo()
		if info.Config.AckWait == cfg.AckWait && info.Config.MaxDeliver == cfg.MaxDeliver &&
			info.Config.MaxAckPending == cfg.MaxAckPending && info.Config.FilterSubject == cfg.FilterSubject {
			break
		}
		cfg.DeliverPolicy = info.Config.DeliverPolicy
		cfg.OptStartSeq = info.Config.OptStartSeq
		cfg.OptStartTime = info.Config.OptStartTime
		cons, err = d.js.UpdateConsumer(ctx, s.stream, cfg)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			d.forgetStream(s.kind)
		}
		return nil, fmt.Errorf("consumer %s on stream %s: %w", s.consumer, s.stream, err)
	}
	return cons, nil
}
