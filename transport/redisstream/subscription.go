package redisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/backoff"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

const (
	ackQueue        = 4096
	ackBatch        = 512
	ackFlushTimeout = 5 * time.Second
	cmdTimeout      = 5 * time.Second
)

// subscription is one Subscribe call: a reader of the kind's stream as one
// consumer of one Redis group, a claimer of idle pending entries, a
// heartbeat that keeps this consumer's in-flight entries from being
// claimed, an acker that batches XACKs, and a keyed pool that hands
// messages out.
//
// Shutdown order: stopCtx ends (readers stop, undelivered messages stay
// pending) → pool drains until the drain ctx ends, then hardCtx ends
// (messages not acked stay pending) → heartbeat stops → acker flushes →
// the consumer is deleted if it has nothing pending → out is closed.
type subscription struct {
	t        *Transport
	client   redis.UniversalClient
	cfg      *config
	log      *slog.Logger
	stream   string
	group    string
	consumer string
	pattern  string
	kind     string
	matchAll bool // every key of the stream matches the pattern

	out  chan *message.Message
	pool *keyed.Pool

	hardCtx  context.Context // Subscribe's ctx; ends at abort
	abort    context.CancelFunc
	stopCtx  context.Context // ends when shutdown starts
	stopRead context.CancelFunc
	stopOnce sync.Once
	done     chan struct{}

	mu       sync.Mutex
	inflight map[string]struct{} // entries read and not yet acked or given up

	acks      chan string
	ackGiveUp chan struct{}
	ackDone   chan struct{}
	hbStop    chan struct{}
	hbDone    chan struct{}
	readers   sync.WaitGroup

	aborted    atomic.Bool   // the drain ctx ended before the pool drained
	readErrors atomic.Uint64 // failed XREADGROUP calls, for tests
}

func newSubscription(ctx context.Context, t *Transport, stream, group, pattern string) *subscription {
	hardCtx, abort := context.WithCancel(ctx)
	stopCtx, stopRead := context.WithCancel(hardCtx)
	s := &subscription{
		t:         t,
		client:    t.client,
		cfg:       &t.cfg,
		stream:    stream,
		group:     group,
		consumer:  t.acquireConsumer(stream, group),
		pattern:   pattern,
		kind:      events.Kind(pattern),
		matchAll:  matchesWholeStream(pattern),
		out:       make(chan *message.Message),
		pool:      keyed.New(t.cfg.concurrency),
		hardCtx:   hardCtx,
		abort:     abort,
		stopCtx:   stopCtx,
		stopRead:  stopRead,
		done:      make(chan struct{}),
		inflight:  make(map[string]struct{}),
		acks:      make(chan string, ackQueue),
		ackGiveUp: make(chan struct{}),
		ackDone:   make(chan struct{}),
		hbStop:    make(chan struct{}),
		hbDone:    make(chan struct{}),
	}
	s.log = t.cfg.logger.With("stream", stream, "group", group, "consumer", s.consumer)
	return s
}

// matchesWholeStream reports whether pattern is the kind followed only by
// '#' segments ("trade.#"): every key of the kind's stream matches.
func matchesWholeStream(pattern string) bool {
	segs := strings.Split(pattern, ".")
	for _, s := range segs[1:] {
		if s != "#" {
			return false
		}
	}
	return len(segs) > 1
}

func (s *subscription) start() {
	s.readers.Add(2)
	go s.readLoop()
	go s.claimLoop()
	go s.heartbeatLoop()
	go s.ackLoop()
	go func() {
		select {
		case <-s.hardCtx.Done(): // Subscribe's ctx ended
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.closeTimeout)
			defer cancel()
			s.stop(ctx)
		case <-s.done:
		}
	}()
}

// stop shuts the subscription down, draining until ctx is done, and
// returns when every goroutine of it has ended and out is closed. It
// returns an error wrapping ctx.Err() when ctx ended before the messages
// handed out were acked or nacked (they stay pending).
func (s *subscription) stop(ctx context.Context) error {
	s.stopOnce.Do(func() { go s.shutdown(ctx) })
	select {
	case <-s.done:
		if s.aborted.Load() && ctx.Err() != nil {
			return fmt.Errorf("redisstream: close %s: messages still in flight were left pending: %w", s.group, ctx.Err())
		}
		return nil
	case <-ctx.Done():
		s.abort()
		<-s.done
		return fmt.Errorf("redisstream: close %s: messages still in flight were left pending: %w", s.group, ctx.Err())
	}
}

func (s *subscription) shutdown(drain context.Context) {
	s.stopRead()
	s.readers.Wait()
	if err := s.pool.Wait(drain); err != nil {
		s.aborted.Store(true)
		s.abort()
		_ = s.pool.Wait(context.Background())
	}
	close(s.hbStop)
	<-s.hbDone
	close(s.acks)
	select {
	case <-s.ackDone:
	case <-time.After(ackFlushTimeout):
		close(s.ackGiveUp)
		<-s.ackDone
	}
	s.deleteConsumerIfIdle()
	s.t.releaseConsumer(s.stream, s.group, s.consumer)
	close(s.out)
	s.abort()
	close(s.done)
}

// deleteConsumerIfIdle removes this consumer from its group when it owns
// no pending entry, so that groups do not collect dead consumer names.
func (s *subscription) deleteConsumerIfIdle() {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	pend, err := s.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.stream, Group: s.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer,
	}).Result()
	if err != nil || len(pend) > 0 {
		return
	}
	_ = s.client.XGroupDelConsumer(ctx, s.stream, s.group, s.consumer).Err()
}

// readLoop reads this consumer's own pending entries first (left by an
// earlier run under the same name), then new entries, until stopCtx ends.
// Errors are retried with backoff; a vanished group is recreated.
func (s *subscription) readLoop() {
	defer s.readers.Done()
	bo := backoff.NewErrorLoop()
	pendingFrom := "0"
	for s.stopCtx.Err() == nil {
		id, block := ">", s.cfg.block
		if pendingFrom != "" {
			id, block = pendingFrom, -1
		}
		res, err := s.client.XReadGroup(s.stopCtx, &redis.XReadGroupArgs{
			Group: s.group, Consumer: s.consumer, Streams: []string{s.stream, id},
			Count: s.cfg.readCount(), Block: block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if s.stopCtx.Err() != nil {
				return
			}
			if isNoGroup(err) {
				// The stream or group is gone (Redis restarted without
				// persistence, or it was deleted): whatever the stream holds
				// now came after that, so start from its beginning.
				if err = ensureGroup(s.stopCtx, s.client, s.stream, s.group, "0"); err == nil {
					s.log.Warn("redisstream: consumer group was missing and has been recreated")
					pendingFrom = ""
					continue
				}
			}
			s.readErrors.Add(1)
			bo.Fail(s.log, "redisstream: read failed", err)
			if !backoff.Sleep(s.stopCtx, bo.Next()) {
				return
			}
			continue
		}
		bo.OK(s.log, "redisstream: read recovered")
		n := 0
		for _, xs := range res {
			for _, xm := range xs.Messages {
				n++
				if pendingFrom != "" {
					pendingFrom = xm.ID
				}
				s.dispatch(xm)
			}
		}
		if pendingFrom != "" && n == 0 {
			pendingFrom = ""
		}
	}
}

// claimLoop takes over entries that another consumer of the group left
// unacknowledged for WithClaimIdle (XAUTOCLAIM): at start, then every
// half claim-idle period.
func (s *subscription) claimLoop() {
	defer s.readers.Done()
	bo := backoff.NewErrorLoop()
	interval := s.cfg.claimIdle / 2
	for {
		start := "0-0"
		for s.stopCtx.Err() == nil {
			msgs, next, deleted, err := s.client.XAutoClaimWithDeleted(s.stopCtx, &redis.XAutoClaimArgs{
				Stream: s.stream, Group: s.group, Consumer: s.consumer,
				MinIdle: s.cfg.claimIdle, Start: start, Count: s.cfg.readCount(),
			}).Result()
			if err != nil {
				if s.stopCtx.Err() == nil && !isNoGroup(err) {
					bo.Fail(s.log, "redisstream: claim failed", err)
				}
				break
			}
			bo.OK(s.log, "redisstream: claim recovered")
			if len(deleted) > 0 {
				s.log.Warn("redisstream: pending entries were trimmed (MAXLEN) before delivery and are lost",
					"count", len(deleted))
			}
			for _, xm := range msgs {
				s.dispatch(xm)
			}
			if next == "0-0" || next == "" {
				break
			}
			start = next
		}
		if !backoff.Sleep(s.stopCtx, interval) {
			return
		}
	}
}

// heartbeatLoop renews this consumer's in-flight entries (XCLAIM … JUSTID
// to itself, which resets their idle time without counting a delivery)
// every claim-idle/3, so that a slow handler or a long queue is not taken
// for a dead consumer. It runs until the pool has drained.
func (s *subscription) heartbeatLoop() {
	defer close(s.hbDone)
	every := s.cfg.claimIdle / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	bo := backoff.NewErrorLoop()
	for {
		select {
		case <-s.hbStop:
			return
		case <-tick.C:
		}
		ids := s.inflightIDs()
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), ackBatch)]
			ids = ids[len(chunk):]
			ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
			err := s.client.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream: s.stream, Group: s.group, Consumer: s.consumer, MinIdle: every, Messages: chunk,
			}).Err()
			cancel()
			if err != nil && !errors.Is(err, redis.Nil) {
				bo.Fail(s.log, "redisstream: heartbeat failed", err)
				break
			}
			bo.OK(s.log, "redisstream: heartbeat recovered")
		}
	}
}

// ackLoop acknowledges acked entries in batches: it takes whatever has
// queued up, sends one XACK, and repeats. A failed XACK is retried with
// backoff until it succeeds or shutdown gives up (the entries then stay
// pending and are delivered again).
func (s *subscription) ackLoop() {
	defer close(s.ackDone)
	bo := backoff.NewErrorLoop()
	batch := make([]string, 0, ackBatch)
	for id := range s.acks {
		batch = append(batch[:0], id)
	fill:
		for len(batch) < ackBatch {
			select {
			case id, ok := <-s.acks:
				if !ok {
					break fill
				}
				batch = append(batch, id)
			default:
				break fill
			}
		}
	retry:
		for {
			ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
			err := s.client.XAck(ctx, s.stream, s.group, batch...).Err()
			cancel()
			if err == nil || isNoGroup(err) {
				bo.OK(s.log, "redisstream: ack recovered")
				break
			}
			bo.Fail(s.log, "redisstream: ack failed", err)
			select {
			case <-s.ackGiveUp:
				s.log.Warn("redisstream: giving up acks at close; the entries will be delivered again",
					"count", len(batch))
				break retry
			case <-time.After(bo.Next()):
			}
		}
	}
}

// ackLater queues id for XACK. If the subscription is aborted while the
// queue is full the ack is dropped: the entry stays pending.
func (s *subscription) ackLater(id string) {
	select {
	case s.acks <- id:
	case <-s.hardCtx.Done():
		select {
		case s.acks <- id:
		default:
		}
	}
}

// dispatch hands one entry read from the stream to the pool, or acks it
// at once when the pattern does not match its routing key.
func (s *subscription) dispatch(xm redis.XMessage) {
	if xm.Values == nil {
		// A pending entry whose content was trimmed away (MAXLEN).
		s.log.Warn("redisstream: pending entry was trimmed before delivery and is lost", "id", xm.ID)
		s.ackLater(xm.ID)
		return
	}
	d := decode(s.kind, xm)
	if !s.matchAll && !events.MatchPattern(s.pattern, d.key) {
		s.ackLater(d.id)
		return
	}
	if !s.track(d.id) {
		return // already in flight here
	}
	pk := d.msg.Metadata[events.MetaPartitionKey]
	if err := s.pool.Submit(s.stopCtx, pk, func() { s.deliver(d) }); err != nil {
		s.untrack(d.id) // shutting down: stays pending
	}
}

// deliver runs on the pool, one at a time per partition key: it hands the
// message out, waits for Ack or Nack, and on Nack hands it out again after
// a backoff, re-reading it from this consumer's pending entries, so the
// key's later messages wait behind it.
func (s *subscription) deliver(d decoded) {
	defer s.untrack(d.id)
	msg := d.msg
	for attempt := 1; ; attempt++ {
		if s.stopCtx.Err() != nil {
			return
		}
		ctx, cancel := context.WithCancel(s.hardCtx)
		msg.SetContext(ctx)
		select {
		case s.out <- msg:
		case <-s.stopCtx.Done():
			cancel()
			return
		}
		select {
		case <-msg.Acked():
			cancel()
			s.ackLater(d.id)
			return
		case <-msg.Nacked():
			cancel()
		case <-s.hardCtx.Done():
			cancel()
			return
		}
		if !backoff.Sleep(s.stopCtx, backoff.Exponential(s.cfg.backoff, s.cfg.backoffMax, attempt)) {
			return
		}
		next, ok := s.reread(d)
		if !ok {
			return
		}
		msg = next
	}
}

// reread claims entry d again for this consumer (XCLAIM with min idle 0,
// which counts a delivery) and returns it as a fresh message. It reports
// false when the entry is no longer pending here (acked, claimed by
// another consumer, or trimmed). If Redis cannot be reached the in-memory
// copy is used.
func (s *subscription) reread(d decoded) (*message.Message, bool) {
	ctx, cancel := context.WithTimeout(s.stopCtx, cmdTimeout)
	defer cancel()
	xms, err := s.client.XClaim(ctx, &redis.XClaimArgs{
		Stream: s.stream, Group: s.group, Consumer: s.consumer, Messages: []string{d.id},
	}).Result()
	switch {
	case err != nil && !errors.Is(err, redis.Nil):
		if s.stopCtx.Err() != nil {
			return nil, false
		}
		return d.msg.Copy(), true
	case len(xms) == 0 || xms[0].Values == nil:
		return nil, false
	default:
		return decode(s.kind, xms[0]).msg, true
	}
}

func (s *subscription) track(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inflight[id]; ok {
		return false
	}
	s.inflight[id] = struct{}{}
	return true
}

func (s *subscription) untrack(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.mu.Unlock()
}

func (s *subscription) inflightIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.inflight))
	for id := range s.inflight {
		ids = append(ids, id)
	}
	return ids
}
