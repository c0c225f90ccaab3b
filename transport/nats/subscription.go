package nats

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/backoff"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

// subscription is one Subscribe call: a reader that pulls from the durable
// consumer, a keyed pool that hands messages out, and a heartbeat that
// keeps in-flight messages from timing out (AckWait).
//
// Shutdown order: stopCtx ends (the reader reads its open pull request to
// its end and NAKs what it pulled ahead; undelivered messages are NAKed) → the pool drains until
// the drain ctx ends, then hardCtx ends (messages not acked are NAKed) →
// the heartbeat stops → out is closed.
type subscription struct {
	t        *Transport
	cfg      *config
	log      *slog.Logger
	group    string
	pattern  string
	kind     string
	stream   string
	consumer string
	filter   string
	exact    bool // the filter subject selects exactly the pattern's keys

	out  chan *message.Message
	pool *keyed.Pool

	hardCtx  context.Context
	abort    context.CancelFunc
	stopCtx  context.Context
	stopRead context.CancelFunc
	stopOnce sync.Once
	done     chan struct{}
	readDone chan struct{}
	hbStop   chan struct{}
	hbDone   chan struct{}

	mu       sync.Mutex
	inflight map[uint64]jetstream.Msg // by stream sequence

	refused []jetstream.Msg // pulled while stopping; reader goroutine only

	aborted    atomic.Bool
	readErrors atomic.Uint64 // failed pulls and consumer set-ups, for tests
	fetches    atomic.Uint64 // pull requests sent, for tests
}

func newSubscription(ctx context.Context, t *Transport, group, pattern string) *subscription {
	hardCtx, abort := context.WithCancel(ctx)
	stopCtx, stopRead := context.WithCancel(hardCtx)
	filter, exact := filterFor(t.cfg.prefix, pattern)
	kind := events.Kind(pattern)
	s := &subscription{
		t:        t,
		cfg:      &t.cfg,
		group:    group,
		pattern:  pattern,
		kind:     kind,
		stream:   streamName(t.cfg.prefix, kind),
		consumer: consumerName(group, pattern),
		filter:   filter,
		exact:    exact,
		out:      make(chan *message.Message),
		pool:     keyed.New(t.cfg.concurrency),
		hardCtx:  hardCtx,
		abort:    abort,
		stopCtx:  stopCtx,
		stopRead: stopRead,
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
		hbStop:   make(chan struct{}),
		hbDone:   make(chan struct{}),
		inflight: make(map[uint64]jetstream.Msg),
	}
	s.log = t.cfg.logger.With("stream", s.stream, "consumer", s.consumer)
	return s
}

func (s *subscription) start(cons jetstream.Consumer) {
	go s.readLoop(cons)
	go s.heartbeatLoop()
	go func() {
		select {
		case <-s.hardCtx.Done(): // Subscribe's ctx ended
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.closeTimeout)
			defer cancel()
			_ = s.stop(ctx)
		case <-s.done:
		}
	}()
}

// stop shuts the subscription down, draining until ctx is done, and
// returns when every goroutine of it has ended and out is closed. It
// returns an error wrapping ctx.Err() when ctx ended before the messages
// handed out were acked or nacked.
func (s *subscription) stop(ctx context.Context) error {
	s.stopOnce.Do(func() { go s.shutdown(ctx) })
	select {
	case <-s.done:
		if s.aborted.Load() && ctx.Err() != nil {
			return fmt.Errorf("nats: close %s: messages still in flight were given back: %w", s.consumer, ctx.Err())
		}
		return nil
	case <-ctx.Done():
		s.abort()
		<-s.done
		return fmt.Errorf("nats: close %s: messages still in flight were given back: %w", s.consumer, ctx.Err())
	}
}

func (s *subscription) shutdown(drain context.Context) {
	s.stopRead()
	<-s.readDone
	if err := s.pool.Wait(drain); err != nil {
		s.aborted.Store(true)
		s.abort()
		_ = s.pool.Wait(context.Background())
	}
	close(s.hbStop)
	<-s.hbDone
	close(s.out)
	s.abort()
	close(s.done)
}

// readLoop pulls messages until stopCtx ends, setting the consumer up
// again (with backoff) when it or its stream vanished or pulling fails.
//
// It pulls with one Fetch request at a time (at most WithPullWait long) and
// reads every request to its end, also while stopping: a JetStream pull
// request cannot be withdrawn, and a message the server delivers into a
// request nobody reads any more waits out AckWait before anyone else gets
// it. Messages that arrive while stopping are NAKed once no request is
// open, so that other members get them at once.
func (s *subscription) readLoop(cons jetstream.Consumer) {
	defer close(s.readDone)
	defer func() {
		for _, m := range s.refused {
			_ = m.Nak()
		}
		s.refused = nil
	}()
	bo := backoff.NewErrorLoop()
	for s.stopCtx.Err() == nil {
		var err error
		if cons == nil {
			// A consumer set up again after it was lost starts at the
			// beginning of its stream: a stream created anew holds only
			// what came after the loss.
			cons, err = s.ensureConsumerFrom(s.stopCtx, jetstream.DeliverAllPolicy)
		}
		var batch jetstream.MessageBatch
		if err == nil {
			s.fetches.Add(1)
			batch, err = cons.Fetch(s.cfg.pullAhead(), jetstream.FetchMaxWait(s.cfg.pullWait))
		}
		if err == nil {
			for m := range batch.Messages() {
				if s.stopCtx.Err() != nil {
					s.refused = append(s.refused, m)
					continue
				}
				s.dispatch(m)
			}
			err = batch.Error()
		}
		if err != nil {
			if s.stopCtx.Err() != nil {
				return
			}
			s.readErrors.Add(1)
			bo.Fail(s.log, "nats: pull failed", err)
			cons = nil // set the consumer up again: it may be gone
			if !backoff.Sleep(s.stopCtx, bo.Next()) {
				return
			}
			continue
		}
		bo.OK(s.log, "nats: pull recovered")
	}
}

// dispatch hands one pulled message to the pool, or acks it at once when
// the pattern does not match its routing key.
func (s *subscription) dispatch(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		s.log.Error("nats: message without JetStream metadata", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	seq := md.Sequence.Stream
	key, msg := decode(s.cfg.prefix, m, seq, md.Stream)
	if !s.exact && !events.MatchPattern(s.pattern, key) {
		_ = m.Ack()
		return
	}
	if !s.track(seq, m) {
		return // a redelivery of a message still in flight here
	}
	pk := msg.Metadata[events.MetaPartitionKey]
	if err := s.pool.Submit(s.stopCtx, pk, func() { s.deliver(seq, m, md.NumDelivered, msg) }); err != nil {
		s.untrack(seq)
		s.refused = append(s.refused, m) // NAKed when the reader is done
	}
}

// deliver runs on the pool, one at a time per partition key: it hands the
// message out and acks or NAKs it at JetStream when the handler does.
// JetStream redelivers a NAKed message after the backoff for its delivery
// count; meanwhile later messages of its key go on.
func (s *subscription) deliver(seq uint64, m jetstream.Msg, delivered uint64, msg *message.Message) {
	defer s.untrack(seq)
	if s.stopCtx.Err() != nil {
		s.giveUp(m)
		return
	}
	ctx, cancel := context.WithCancel(s.hardCtx)
	defer cancel()
	msg.SetContext(ctx)
	select {
	case s.out <- msg:
	case <-s.stopCtx.Done():
		s.giveUp(m)
		return
	}
	select {
	case <-msg.Acked():
		if err := m.Ack(); err != nil {
			s.log.Warn("nats: ack failed; the message will be delivered again", "seq", seq, "err", err)
		}
	case <-msg.Nacked():
		if err := m.NakWithDelay(backoff.Exponential(s.cfg.backoff, s.cfg.backoffMax, delivered)); err != nil {
			s.log.Warn("nats: nak failed; the message will be delivered again after AckWait", "seq", seq, "err", err)
		}
	case <-s.hardCtx.Done():
		s.giveUp(m)
	}
}

// giveUp NAKs a message this subscription will not deliver, once the
// reader has no pull request open any more (see readLoop), so that
// JetStream hands it to another member at once.
func (s *subscription) giveUp(m jetstream.Msg) {
	<-s.readDone
	_ = m.Nak()
}

// heartbeatLoop tells JetStream every AckWait/3 that the messages this
// subscription holds (queued or handed out) are in progress, so that a
// slow handler or a long queue does not make them time out.
func (s *subscription) heartbeatLoop() {
	defer close(s.hbDone)
	tick := time.NewTicker(s.cfg.ackWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.hbStop:
			return
		case <-tick.C:
		}
		for _, m := range s.inflightMsgs() {
			_ = m.InProgress() // fails only for acked messages or a lost connection
		}
	}
}

func (s *subscription) track(seq uint64, m jetstream.Msg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inflight[seq]; ok {
		return false
	}
	s.inflight[seq] = m
	return true
}

func (s *subscription) untrack(seq uint64) {
	s.mu.Lock()
	delete(s.inflight, seq)
	s.mu.Unlock()
}

func (s *subscription) inflightMsgs() []jetstream.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]jetstream.Msg, 0, len(s.inflight))
	for _, m := range s.inflight {
		ms = append(ms, m)
	}
	return ms
}
