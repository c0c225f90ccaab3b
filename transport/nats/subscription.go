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
	"github.com/tradebus/tradebus/transport/internal/decimals"
)

// subscription is the driver.Subscription of one (group, pattern): it pulls
// from the durable consumer of the pair on one inbox (pull.go), pull
// requests kept open across ReceiveBatch calls until they are filled or
// expire, the next sent while the core works on the messages of the
// last, and keeps the
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
	cons       jetstream.Consumer   // nil: set up again
	inbox      *natsgo.Subscription // the pull requests' inbox (pull.go)
	inboxSubj  string               //
	msgs       chan *natsgo.Msg     // what arrives on it
	nextSubj   string               // the consumer's pull request subject
	reqBody    []byte               // the pull request, for reqSize
	reqSize    int                  //
	pending    int                  // messages asked for by open requests, not yet received
	lastExpiry time.Time            // when the last request sent expires
	hb         time.Duration        // the requests' idle heartbeat (pullHeartbeat); 0: none
	lastHeard  time.Time            // hb > 0: when the inbox last had a message, or a request went out
	ghostUntil time.Time            // requests forgotten for silence could deliver until then (expireRequests)
	scratch    []*natsgo.Msg        // the messages ReceiveBatch reads, reused
	epoch      uint64               // the connection's reconnects when last caught up with (see recover)
	dropped    []*natsgo.Msg        // read after a reconnect, not handed out: for recover

	mu   sync.Mutex
	held map[uint64]*heldMsg // by stream sequence

	presence *natsgo.Subscription // answers on the presence subject until Close

	hbStop    chan struct{}
	hbDone    chan struct{}
	closeOnce sync.Once
	closeErr  error

	fetchCount atomic.Uint64 // pull requests sent, for tests
	silenced   atomic.Uint64 // requests forgotten for a silent inbox before their expiry, for tests
	readErrors atomic.Uint64 // failed pulls and consumer set-ups, for tests
}

var _ driver.Subscription = (*subscription)(nil)

// heldMsg is a received message the core holds, and its AckID: the ack
// subject is parsed once, when it is received.
type heldMsg struct {
	m              *natsgo.Msg
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
		hb:       pullHeartbeat(d.cfg.pullWait, d.nc.ConnectedServerVersion()),
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
	if err := s.listen(max); err != nil {
		return nil, err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	size := s.pullSize(max)
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
		if err := s.recover(ctx, max); err != nil {
			if !s.d.nc.IsConnected() {
				continue // recover again after the reconnect
			}
			s.readErrors.Add(1)
			s.cons = nil
			return nil, err
		}
		if err := s.pull(size); err != nil {
			if !s.d.nc.IsConnected() {
				continue // wait for the reconnect above
			}
			return nil, err
		}
		// Block for the first message, or until the open requests are
		// overdue (lost with the connection: pull again).
		var m *natsgo.Msg
		select {
		case m = <-s.msgs:
		default:
			now := time.Now()
			d := s.requestsDone(now).Sub(now)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case m = <-s.msgs:
			case <-timer.C:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if cap(got) < max {
			got = make([]*natsgo.Msg, 0, max)
		}
		s.heard() // once per batch: a clock read per message would be on the hot path
		// Take what has arrived, up to max.
	take:
		for {
			st, err := s.status(m)
			switch st {
			case pullMessage:
				got = append(got, m)
			case pullFailed:
				s.readErrors.Add(1)
				s.cons = nil
				if len(got) == 0 {
					return nil, err
				}
				break take // the consumer is set up again on the next call
			}
			if len(got) == max {
				break
			}
			select {
			case m = <-s.msgs:
			default:
				break take
			}
		}
		if len(got) > 0 && s.d.nc.Stats().Reconnects != s.epoch {
			// Read after a reconnect: delivered, perhaps, after messages
			// the connection lost. recover (above) gives them back.
			s.dropped = append(s.dropped, got...)
			clear(got)
			continue
		}
		// Ask for more now, while the core works on these.
		if s.cons != nil && s.d.nc.IsConnected() {
			_ = s.pull(size) // an error comes again on the next call
		}
		refs = s.hold(got)
	}
	dms := make([]driver.Message, len(refs))
	out := make([]*driver.Message, len(refs))
	decimals.Carve(len(refs), func(i int) uint64 { return refs[i].seq }, func(i int, offset string) {
		h := &refs[i]
		decode(&dms[i], s.d.cfg.prefix, s.stream, h.m.Subject, h.m.Header, h.m.Data, h.seq, h.delivered, offset)
		dms[i].AckID = h
		out[i] = &dms[i]
	})
	return out, nil
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
func (s *subscription) hold(msgs []*natsgo.Msg) []heldMsg {
	out := make([]heldMsg, 0, len(msgs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		seq, delivered, ok := ackInfo(m.Reply)
		if !ok {
			s.d.log.Error("nats: message without JetStream metadata", "subject", m.Subject)
			_ = s.settle(m, ackTerm)
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
func (s *subscription) release(ids []driver.AckID, body []byte) error {
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
		if err := s.settle(h.m, body); err != nil {
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
	return s.release(ids, ackAck)
}

// SendNacks implements driver.Subscription: a NAK per message, which
// JetStream redelivers at once, to this or another member.
//
// The NAKs themselves are sent by Close, which the core calls right after:
// the core gives messages back only when it stops, and a NAK sent while
// one of this subscription's pull requests is still open would be redelivered into
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
	var ms []*natsgo.Msg
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
			_ = s.settle(m, ackInProgress) // fails only for a lost connection
		}
		clear(ms)
	}
}

// Close implements driver.Subscription: it stops the heartbeat, reads the
// open pull requests to their end (a pull request cannot be withdrawn,
// and a message delivered into one nobody reads waits out AckWait), then
// NAKs what arrived in them, what is still held and what ReceiveBatch
// read after a reconnect and did not hand out, so that the next member
// gets those at once. It returns an error wrapping ctx.Err() if ctx ended
// first (those messages come again after AckWait).
//
// No NAK goes out while a request of s may still be open at JetStream.
// One sent then is redelivered into that very request, read by Close and
// NAKed again, round after round until the request ends — each round a
// delivery of MaxDeliver spent — and JetStream (nats-server before
// 2.10.14, nats-io/nats-server#5305) mishandles a redelivery it takes
// from its queue just as the only request it could go to has expired:
// it moves the consumer's delivered stream sequence back by one, so that
// one message counts both pending and ack pending (Lag one too high for
// good) and is later delivered a second time, and drops the redelivery
// until AckWait.
func (s *subscription) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.hbStop)
		<-s.hbDone
		defer s.d.forget(s)
		// Answer as live until the NAKs below are sent: they reach the
		// server before the unsubscribe.
		defer s.unannounce()
		var late []*natsgo.Msg // delivered into the open requests
		if s.inbox != nil {
			defer func() { _ = s.inbox.Unsubscribe() }()
			var timer *time.Timer
			overdue := false
			// Silence does not end this wait (as it does a receive's):
			// under load a live request's heartbeat can come late, and a
			// request left open delivers into an inbox nobody reads —
			// those messages wait out AckWait. Requests forgotten for
			// silence are read to their expiry too.
			for s.pending > 0 || time.Now().Before(s.ghostUntil) {
				d := time.Until(s.lastExpiry.Add(pullGrace))
				if d <= 0 {
					overdue = true
					break
				}
				if timer == nil {
					timer = time.NewTimer(d)
					defer timer.Stop()
				} else {
					timer.Reset(d)
				}
				select {
				case m := <-s.msgs:
					if st, _ := s.status(m); st == pullMessage {
						late = append(late, m)
					}
				case <-timer.C:
				case <-ctx.Done():
					s.closeErr = fmt.Errorf("nats: close %s: pull requests still open: %w", s.consumer, ctx.Err())
					return
				}
			}
			// Whatever arrived without being counted (a request that
			// outlived its reset).
		rest:
			for {
				select {
				case m := <-s.msgs:
					if st, _ := s.status(m); st == pullMessage {
						late = append(late, m)
					}
				default:
					break rest
				}
			}
			if overdue && s.cons != nil && s.d.nc.IsConnected() {
				// A request's end was never reported: nats-server 2.9
				// drops a request without a status when it finds it
				// expired as it delivers, and a cut connection loses the
				// status. JetStream drops the expired requests of a
				// consumer when it answers a consumer info request: ask,
				// so that none is left when the NAKs arrive (an error
				// changes nothing: the NAKs go anyway).
				_, _ = s.cons.Info(ctx)
			}
		}
		for _, m := range late {
			_ = s.settle(m, ackNak)
		}
		clear(late)
		s.mu.Lock()
		for seq, h := range s.held {
			_ = s.settle(h.m, ackNak)
			delete(s.held, seq)
		}
		s.mu.Unlock()
		for _, m := range s.dropped {
			_ = s.settle(m, ackNak)
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
